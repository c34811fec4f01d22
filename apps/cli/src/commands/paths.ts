/** API paths. Repository names contain '/', so every path segment is encoded (`library%2Fnginx`). */
export const repositoryPath = (name: string): string => `/repositories/${encodeURIComponent(name)}`;
export const tagPath = (name: string, tag: string): string => `${repositoryPath(name)}/tags/${encodeURIComponent(tag)}`;
/** Any image reference (`repo:tag`, `repo@sha256:…`, a digest, an id prefix) is one path segment. */
export const imagePath = (reference: string): string => `/images/${encodeURIComponent(reference)}`;
/** A container reference (its id, a unique id prefix or its name) is one path segment. */
export const containerPath = (reference: string): string => `/containers/${encodeURIComponent(reference)}`;

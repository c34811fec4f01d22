/**
 * The `/v2/` URL grammar. Repository names contain '/', so the path cannot be split on '/' from the
 * left: the route is recognised by its suffix (`/manifests/<ref>`, `/blobs/<digest>`, …) and
 * everything before it is the name, which is then checked against the distribution grammar.
 */
export type RegistryRoute =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'token' }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; uuid: string }
  | { kind: 'tags'; name: string };

/** distribution/reference's path components: lowercase alphanumerics joined by '.', '_', '__' or '-'s. */
const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const MAX_NAME = 255;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export const isRepositoryName = (name: string): boolean => name.length <= MAX_NAME && NAME.test(name);
export const isTag = (reference: string): boolean => TAG.test(reference);
/** Any digest the grammar allows (we store only sha256; other algorithms are then simply unknown). */
export const isDigestReference = (reference: string): boolean => reference.includes(':') && DIGEST.test(reference);

const SUFFIXES: Array<[RegExp, (name: string, m: RegExpExecArray) => RegistryRoute]> = [
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (name, m) => ({ kind: 'manifest', name, reference: m[2]! })],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (name) => ({ kind: 'uploads', name })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (name, m) => ({ kind: 'upload', name, uuid: m[2]! })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (name, m) => ({ kind: 'blob', name, digest: m[2]! })],
  [/^\/v2\/(.+)\/tags\/list$/, (name) => ({ kind: 'tags', name })],
];

/**
 * Which registry route a path (without the query string) names, or null when none does. A route whose
 * name breaks the grammar is still recognised, with `nameValid: false`, so it can be answered
 * NAME_INVALID rather than "not found".
 */
export function parseRegistryPath(path: string): (RegistryRoute & { nameValid: boolean }) | null {
  if (path === '/v2' || path === '/v2/') return { kind: 'base', nameValid: true };
  if (path === '/v2/_catalog') return { kind: 'catalog', nameValid: true };
  if (path === '/v2/token') return { kind: 'token', nameValid: true };
  for (const [pattern, build] of SUFFIXES) {
    const match = pattern.exec(path);
    if (!match) continue;
    let name: string;
    try {
      name = decodeURIComponent(match[1]!);
    } catch {
      return null;
    }
    return { ...build(name, match), nameValid: isRepositoryName(name) };
  }
  return null;
}

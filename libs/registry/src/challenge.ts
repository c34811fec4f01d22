/**
 * The `WWW-Authenticate` challenge of the Docker token flow. Clients (skopeo, docker) send their
 * credentials only after a 401 carrying it: a registry that answered `GET /v2/` with 200 to everyone
 * would never be sent the token at all.
 */
export function bearerChallenge(realm: string, service: string, scope?: string): string {
  const quoted = (value: string) => `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
  return `Bearer realm=${quoted(realm)},service=${quoted(service)}${scope ? `,scope=${quoted(scope)}` : ''}`;
}

/** The scope a request needs, in the token spec's form: `repository:<name>:pull` or `:pull,push`. */
export const repositoryScope = (name: string, actions: ReadonlyArray<'pull' | 'push' | 'delete' | '*'>): string => `repository:${name}:${actions.join(',')}`;

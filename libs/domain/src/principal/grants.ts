import { invalid } from '../shared/errors.js';

/**
 * Grants say what a principal may do with which repositories: `<action>:<pattern>`.
 * - `pull:<pattern>`  read (manifests, blobs, tags) of matching repositories, public or private;
 * - `push:<pattern>`  pull, plus push and untag;
 * - `admin:<pattern>` everything on matching repositories (delete images and blobs, visibility,
 *   delete the repository); `admin:*` is a node administrator (the whole HTTP API, principals too).
 * A pattern is a repository name in which `*` stands for any run of characters, '/' included:
 * `team/*` covers `team/app` and `team/a/b`, `*` covers everything.
 */
export type GrantAction = 'pull' | 'push' | 'admin';
export interface Grant {
  action: GrantAction;
  pattern: string;
}

/** What a request does to a repository, in the token spec's words. */
export type RepositoryAction = 'pull' | 'push' | 'delete';

const GRANT = /^(pull|push|admin):(.+)$/;
/** A repository name's characters plus '*': lowercase alphanumerics, '.', '_', '-', '/'. */
const PATTERN = /^[a-z0-9._\-/*]{1,255}$/;

export function parseGrant(value: unknown): Grant {
  const match = typeof value === 'string' ? GRANT.exec(value) : null;
  if (!match || !PATTERN.test(match[2]!)) {
    throw invalid(
      'INVALID_GRANT',
      `invalid grant ${JSON.stringify(value)}: write pull|push|admin:<repository pattern>, e.g. "push:team/*" or "pull:library/nginx" ('*' matches any characters)`,
      { grant: value },
    );
  }
  return { action: match[1] as GrantAction, pattern: match[2]! };
}

export const formatGrant = (grant: Grant): string => `${grant.action}:${grant.pattern}`;

/** Parses, de-duplicates and sorts grants, so the same set is always written the same way. */
export function normalizeGrants(values: unknown): string[] {
  if (!Array.isArray(values)) throw invalid('INVALID_GRANT', 'grants must be a list of "pull|push|admin:<pattern>"');
  return [...new Set(values.map((v) => formatGrant(parseGrant(v))))].sort();
}

export function patternMatches(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*')) return pattern === name;
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.\-/]/g, '\\$&')).join('.*')}$`);
  return regex.test(name);
}

const IMPLIES: Record<GrantAction, readonly RepositoryAction[]> = {
  pull: ['pull'],
  push: ['pull', 'push'],
  admin: ['pull', 'push', 'delete'],
};

/** The actions a set of grants allows on one repository (push implies pull; admin implies all). */
export function allowedActions(grants: readonly Grant[], repository: string): Set<RepositoryAction> {
  const allowed = new Set<RepositoryAction>();
  for (const grant of grants) {
    if (patternMatches(grant.pattern, repository)) for (const action of IMPLIES[grant.action]) allowed.add(action);
  }
  return allowed;
}

export const allows = (grants: readonly Grant[], repository: string, action: RepositoryAction): boolean =>
  allowedActions(grants, repository).has(action);

/** `admin:*`: the node's administrator, who may use the whole API (principals, containers, events…). */
export const isNodeAdmin = (grants: readonly Grant[]): boolean => grants.some((g) => g.action === 'admin' && g.pattern === '*');

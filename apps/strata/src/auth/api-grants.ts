import type { RepositoryAction } from '@strata/domain';

/**
 * What a principal that is not a node administrator (`admin:*`) may do on the Strata HTTP API: the
 * routes about one repository, each needing an action on it; `status` for anyone (it says who you
 * are). Everything else — images, containers, the audit log, commands by name, replay, principals —
 * is for administrators only: those routes are not scoped to a repository, so no grant can cover them.
 * `/v2/` does its own access control (RegistryAccess) and `/healthz` is public.
 *
 * Keyed by `<Controller>.<handler>`, so a renamed route path does not loosen anything, and a new
 * route is admin-only until someone decides otherwise here.
 */
export interface RouteGrant {
  action: RepositoryAction;
  /** Where the repository's name is: a path parameter or a field of the JSON body. */
  from: 'param' | 'body';
}

export const ROUTE_GRANTS: Readonly<Record<string, RouteGrant | 'any-principal'>> = {
  'SystemController.status': 'any-principal',
  'RepositoriesController.get': { action: 'pull', from: 'param' },
  'RepositoriesController.tags': { action: 'pull', from: 'param' },
  'RepositoriesController.tag': { action: 'pull', from: 'param' },
  'RepositoriesController.history': { action: 'pull', from: 'param' },
  'RepositoriesController.tagImage': { action: 'push', from: 'param' },
  'RepositoriesController.untag': { action: 'push', from: 'param' },
  'RepositoriesController.visibility': { action: 'delete', from: 'param' },
  'RepositoriesController.remove': { action: 'delete', from: 'param' },
  'RepositoriesController.create': { action: 'delete', from: 'body' },
};

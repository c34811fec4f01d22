import type { Decider } from '../shared/decider.js';
import { conflict, notFound } from '../shared/errors.js';
import type { PrincipalCommand } from './commands.js';
import type { PrincipalEvent } from './events.js';
import { normalizeGrants } from './grants.js';
import { assertPrincipalName } from './names.js';
import { initialPrincipalState, type PrincipalState } from './state.js';

export const PRINCIPAL_CATEGORY = 'principal';
/** One stream per principal name, like repositories: the stream is the name's reservation. */
export const principalStreamId = (name: string) => `${PRINCIPAL_CATEGORY}-${name}`;

function requireActive(state: PrincipalState, name: string): void {
  if (state.status !== 'active') throw notFound('PRINCIPAL_NOT_FOUND', `no principal "${name}"`, { name });
}

export function decidePrincipal(command: PrincipalCommand, state: PrincipalState): PrincipalEvent[] {
  const name = assertPrincipalName(command.name);
  switch (command.type) {
    case 'CreatePrincipal': {
      const grants = normalizeGrants(command.grants);
      if (state.status === 'active') throw conflict('PRINCIPAL_EXISTS', `principal "${name}" already exists (revoke it first to start again)`, { name });
      return [{ type: 'PrincipalCreated', schemaVersion: 1, data: { name, grants } }];
    }
    case 'ChangePrincipalGrants': {
      const grants = normalizeGrants(command.grants);
      requireActive(state, name);
      if (grants.join('\n') === state.grants.join('\n')) return [];
      return [{ type: 'PrincipalGrantsChanged', schemaVersion: 1, data: { name, grants, previousGrants: [...state.grants] } }];
    }
    case 'RevokePrincipal':
      requireActive(state, name);
      return [{ type: 'PrincipalRevoked', schemaVersion: 1, data: { name, grants: [...state.grants] } }];
  }
}

export function evolvePrincipal(state: PrincipalState, event: PrincipalEvent): PrincipalState {
  switch (event.type) {
    case 'PrincipalCreated':
      return { status: 'active', name: event.data.name, grants: event.data.grants };
    case 'PrincipalGrantsChanged':
      return { ...state, grants: event.data.grants };
    case 'PrincipalRevoked':
      return { ...state, status: 'revoked', grants: [] };
    default:
      return state;
  }
}

export const principalDecider: Decider<PrincipalState, PrincipalCommand, PrincipalEvent> = {
  category: PRINCIPAL_CATEGORY,
  initialState: initialPrincipalState,
  decide: decidePrincipal,
  evolve: evolvePrincipal,
};

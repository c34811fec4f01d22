import { describe, expect, it } from 'vitest';
import { fold } from '../shared/decider.js';
import { codeOf } from '../testing/error-code.js';
import type { PrincipalCommand } from './commands.js';
import { principalDecider } from './decider.js';
import type { PrincipalEvent } from './events.js';
import { allowedActions, isNodeAdmin, normalizeGrants, parseGrant, patternMatches } from './grants.js';

function run(...commands: PrincipalCommand[]): PrincipalEvent[] {
  const events: PrincipalEvent[] = [];
  for (const c of commands) events.push(...principalDecider.decide(c, fold(principalDecider, events)));
  return events;
}

describe('grants', () => {
  it('parses pull|push|admin:<pattern> and refuses anything else', () => {
    expect(parseGrant('push:team/*')).toEqual({ action: 'push', pattern: 'team/*' });
    for (const bad of ['read:x', 'push:', 'push:Team', 'push x', 42, 'admin:a b']) expect(codeOf(() => parseGrant(bad))).toBe('INVALID_GRANT');
    expect(normalizeGrants(['push:b', 'pull:a', 'push:b'])).toEqual(['pull:a', 'push:b']);
  });

  it('matches patterns: exact names, * anywhere, across slashes', () => {
    expect(patternMatches('*', 'a/b/c')).toBe(true);
    expect(patternMatches('team/*', 'team/app')).toBe(true);
    expect(patternMatches('team/*', 'team/a/b')).toBe(true);
    expect(patternMatches('team/*', 'teamx/app')).toBe(false);
    expect(patternMatches('team/*', 'team')).toBe(false);
    expect(patternMatches('a.b', 'axb')).toBe(false);
    expect(patternMatches('*/app', 'x/app')).toBe(true);
    expect(patternMatches('library/nginx', 'library/nginx')).toBe(true);
  });

  it('push implies pull, admin implies all; only admin:* is a node admin', () => {
    const grants = ['pull:public/*', 'push:team/*', 'admin:ops/*'].map(parseGrant);
    expect([...allowedActions(grants, 'public/x')]).toEqual(['pull']);
    expect([...allowedActions(grants, 'team/x')].sort()).toEqual(['pull', 'push']);
    expect([...allowedActions(grants, 'ops/x')].sort()).toEqual(['delete', 'pull', 'push']);
    expect([...allowedActions(grants, 'other')]).toEqual([]);
    expect(isNodeAdmin(grants)).toBe(false);
    expect(isNodeAdmin([parseGrant('admin:*')])).toBe(true);
  });
});

describe('principal decider', () => {
  it('creates, changes grants, revokes, and may create the name again', () => {
    const events = run(
      { type: 'CreatePrincipal', name: 'ci', grants: ['push:team/*'] },
      { type: 'ChangePrincipalGrants', name: 'ci', grants: ['push:team/*', 'pull:*'] },
      { type: 'RevokePrincipal', name: 'ci' },
      { type: 'CreatePrincipal', name: 'ci', grants: [] },
    );
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ['PrincipalCreated', { name: 'ci', grants: ['push:team/*'] }],
      ['PrincipalGrantsChanged', { name: 'ci', grants: ['pull:*', 'push:team/*'], previousGrants: ['push:team/*'] }],
      ['PrincipalRevoked', { name: 'ci', grants: ['pull:*', 'push:team/*'] }],
      ['PrincipalCreated', { name: 'ci', grants: [] }],
    ]);
  });

  it('refuses with stable codes', () => {
    const active = fold(principalDecider, run({ type: 'CreatePrincipal', name: 'ci', grants: [] }));
    const none = principalDecider.initialState();
    const cases: Array<[PrincipalCommand, typeof none, string]> = [
      [{ type: 'CreatePrincipal', name: 'ci', grants: [] }, active, 'PRINCIPAL_EXISTS'],
      [{ type: 'CreatePrincipal', name: 'admin', grants: [] }, none, 'RESERVED_PRINCIPAL_NAME'],
      [{ type: 'CreatePrincipal', name: 'Bad Name', grants: [] }, none, 'INVALID_PRINCIPAL_NAME'],
      [{ type: 'CreatePrincipal', name: 'x', grants: ['write:*'] }, none, 'INVALID_GRANT'],
      [{ type: 'RevokePrincipal', name: 'ci' }, none, 'PRINCIPAL_NOT_FOUND'],
      [{ type: 'ChangePrincipalGrants', name: 'ci', grants: [] }, none, 'PRINCIPAL_NOT_FOUND'],
    ];
    for (const [command, state, code] of cases) expect([command.type, codeOf(() => principalDecider.decide(command, state))]).toEqual([command.type, code]);
    expect(principalDecider.decide({ type: 'ChangePrincipalGrants', name: 'ci', grants: [] }, active)).toEqual([]);
  });
});

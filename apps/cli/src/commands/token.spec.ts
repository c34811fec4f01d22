import { afterEach, describe, expect, it } from 'vitest';
import type { PrincipalView, TokenCreatedReply } from '@strata/api';
import { cliHarness } from '../testing/cli-harness.js';
import { sendJson, sendProblem } from '../testing/fake-node.js';

const h = cliHarness();
afterEach(() => h.close());

const view = (name: string, overrides: Partial<PrincipalView> = {}): PrincipalView => ({
  name,
  grants: ['push:team/*'],
  status: 'active',
  builtIn: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  createdBy: 'admin',
  updatedAt: '2026-01-01T00:00:00.000Z',
  updatedBy: 'admin',
  ...overrides,
});

describe('strata token', () => {
  it('create: POSTs the name and grants, prints only the token on stdout', async () => {
    const created: TokenCreatedReply = { principal: view('ci', { grants: ['pull:*', 'push:team/*'] }), token: 'strata_secret', position: 7 };
    const r = await h.strata(['token', 'create', 'ci', '--grant', 'push:team/*', '--grant', 'pull:*'], (_q, res) => sendJson(res, 201, created));
    expect(r.code).toBe(0);
    expect(r.out).toBe('strata_secret\n');
    expect(r.err).toContain('created principal ci with pull:*, push:team/* at position 7');
    expect(r.requests[0]).toMatchObject({ method: 'POST', path: '/tokens' });
    expect(JSON.parse(r.requests[0]!.body)).toEqual({ name: 'ci', grants: ['push:team/*', 'pull:*'] });
  });

  it('create: refuses a malformed grant before asking the node', async () => {
    const r = await h.strata(['token', 'create', 'ci', '--grant', 'write:x'], (_q, res) => sendJson(res, 500, {}));
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('pull|push|admin:<repository pattern>');
    expect(r.requests).toHaveLength(0);
  });

  it('ls: a table of active principals (--all adds revoked ones), never a token', async () => {
    const items = [view('admin', { grants: ['admin:*'], builtIn: true, createdAt: null, createdBy: null, updatedAt: null, updatedBy: null }), view('ci'), view('old', { status: 'revoked', grants: [] })];
    const r = await h.strata(['token', 'ls'], (_q, res) => sendJson(res, 200, { items, position: 0 }));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^NAME\s+GRANTS\s+STATUS/);
    expect(r.out).toContain('built-in');
    expect(r.out).toContain('push:team/*');
    expect(r.out).not.toContain('old');
    const all = await h.strata(['token', 'ls', '--all', '--json'], (_q, res) => sendJson(res, 200, { items, position: 0 }));
    expect(JSON.parse(all.out).items.map((p: PrincipalView) => p.name)).toEqual(['admin', 'ci', 'old']);
  });

  it('revoke and grants: DELETE and PUT, problems reported with their code', async () => {
    const reply = { commandId: 'c', streamId: 'principal-ci', version: 2, position: 9, events: ['PrincipalRevoked'], duplicate: false };
    const r = await h.strata(['token', 'revoke', 'ci'], (q, res) =>
      q.method === 'DELETE' ? sendJson(res, 200, reply) : sendProblem(res, 404, 'PRINCIPAL_NOT_FOUND', 'no principal "nobody"'),
    );
    expect(r).toMatchObject({ code: 0, out: 'revoked ci at position 9\n' });
    expect(r.requests[0]).toMatchObject({ method: 'DELETE', path: '/tokens/ci' });
    const g = await h.strata(['token', 'grants', 'nobody', '--grant', 'pull:*'], () => undefined);
    expect(g.code).not.toBe(0);
    expect(g.err).toContain('PRINCIPAL_NOT_FOUND');
    expect(h.requests()[1]).toMatchObject({ method: 'PUT', path: '/tokens/nobody/grants' });
  });
});

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN, TokenStore } from './token-store.js';

let dir: string | undefined;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

describe('TokenStore', () => {
  it('keeps salted hashes only (0600), identifies any principal, authenticates only the admin', () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-tokens-'));
    const store = new TokenStore(dir, null);
    expect(store.ensureAdmin()).toBe(true);
    const admin = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
    store.set('ci', 'strata_ci-secret-0123456789');
    const file = readFileSync(join(dir, 'tokens.json'), 'utf8');
    expect(file).not.toContain('strata_ci-secret');
    expect(file).not.toContain(admin);
    expect(statSync(join(dir, 'tokens.json')).mode & 0o777).toBe(0o600);
    const reopened = new TokenStore(dir, null);
    expect(reopened.identify('strata_ci-secret-0123456789')).toBe('ci');
    expect(reopened.identify(admin)).toBe('admin');
    expect(reopened.authenticate(admin)).toBe(ADMIN);
    // A principal's token is not an admin's: callers that cannot read grants refuse it.
    expect(reopened.authenticate('strata_ci-secret-0123456789')).toBeNull();
    reopened.remove('ci');
    expect(new TokenStore(dir, null).identify('strata_ci-secret-0123456789')).toBeNull();
  });

  it("reads the first slice's format, and never writes a fixed admin token's hash", () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-tokens-'));
    const legacy = new TokenStore(dir, null);
    legacy.ensureAdmin();
    const generated = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
    const entries = JSON.parse(readFileSync(join(dir, 'tokens.json'), 'utf8')) as Array<{ name: string; salt: string; hash: string }>;
    writeFileSync(join(dir, 'tokens.json'), JSON.stringify(entries.map(({ name, ...rest }) => ({ principal: { name, role: 'admin' }, ...rest }))));
    const fixed = new TokenStore(dir, 'fixed-admin-token-0123456789');
    expect(fixed.identify('fixed-admin-token-0123456789')).toBe('admin');
    expect(fixed.identify(generated)).toBeNull();
    fixed.set('ci', 'strata_ci');
    const again = new TokenStore(dir, null);
    expect(again.identify(generated)).toBe('admin');
    expect(again.identify('fixed-admin-token-0123456789')).toBeNull();
    expect(again.identify('strata_ci')).toBe('ci');
  });
});

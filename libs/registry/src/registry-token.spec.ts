import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { looksLikeRegistryToken, parseScopes, RepositoryLinks, signRegistryToken, verifyRegistryToken, type RegistryTokenClaims } from './index.js';

const key = randomBytes(32);
const claims = (over: Partial<RegistryTokenClaims> = {}): RegistryTokenClaims => ({
  iss: 'strata',
  aud: 'strata',
  sub: 'ci',
  iat: 1000,
  nbf: 1000,
  exp: 1300,
  jti: 'j',
  access: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }],
  ...over,
});

describe('registry tokens', () => {
  it('verify what was signed with the key, until it expires, for this audience only', () => {
    const token = signRegistryToken(claims(), key);
    expect(looksLikeRegistryToken(token)).toBe(true);
    expect(looksLikeRegistryToken('strata_abc')).toBe(false);
    expect(verifyRegistryToken(token, key, { audience: 'strata', now: 1_100_000 })).toEqual(claims());
    expect(verifyRegistryToken(token, key, { audience: 'strata', now: 1_301_000 })).toBeNull();
    expect(verifyRegistryToken(token, key, { audience: 'other', now: 1_100_000 })).toBeNull();
    expect(verifyRegistryToken(token, randomBytes(32), { audience: 'strata', now: 1_100_000 })).toBeNull();
  });

  it('refuse a token whose claims were changed after signing', () => {
    const [header, , signature] = signRegistryToken(claims(), key).split('.');
    const forged = Buffer.from(JSON.stringify(claims({ access: [{ type: 'repository', name: '*', actions: ['delete'] }] }))).toString('base64url');
    expect(verifyRegistryToken(`${header}.${forged}.${signature}`, key, { audience: 'strata', now: 1_100_000 })).toBeNull();
  });

  it('parse scopes: repeated, space-separated, several actions, junk ignored', () => {
    expect(parseScopes(['repository:a/b:pull,push', 'repository:c:pull repository:d:*', 'nonsense', 'registry:catalog:*'])).toEqual([
      { type: 'repository', name: 'a/b', actions: ['pull', 'push'] },
      { type: 'repository', name: 'c', actions: ['pull'] },
      { type: 'repository', name: 'd', actions: ['*'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    expect(parseScopes(undefined)).toEqual([]);
  });
});

describe('repository links', () => {
  it('link, check and unlink a blob per repository', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-links-'));
    try {
      const links = await RepositoryLinks.open(dir);
      const digest = `sha256:${'a'.repeat(64)}`;
      expect(await links.has('team/app', digest)).toBe(false);
      await links.link('team/app', digest);
      expect(await links.has('team/app', digest)).toBe(true);
      expect(await links.has('team/other', digest)).toBe(false);
      expect(await links.unlink('team/app', digest)).toBe(true);
      expect(await links.unlink('team/app', digest)).toBe(false);
      await expect(links.link('x', 'sha256:../../etc')).rejects.toThrow(/not a sha256 digest/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

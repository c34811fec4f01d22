import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { authFilePath, credentialsFor, registryAuthHeader, registryOf, removeCredentials, storeCredentials } from './commands/registry-auth-file.js';

describe('registry credentials file', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const temp = () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-auth-'));
    dirs.push(dir);
    return dir;
  };

  it('finds the registry of a reference as Docker does', () => {
    expect(registryOf('127.0.0.1:5000/demo/app:1')).toBe('127.0.0.1:5000');
    expect(registryOf('Registry.Example.com/a/b')).toBe('registry.example.com');
    expect(registryOf('localhost/app')).toBe('localhost');
    expect(registryOf('demo/app:1')).toBe('docker.io');
    expect(registryOf('busybox')).toBe('docker.io');
  });

  it('lives in $STRATA_CONFIG, else $XDG_CONFIG_HOME/strata, else ~/.config/strata', () => {
    expect(authFilePath({ STRATA_CONFIG: '/c' })).toBe('/c/auth.json');
    expect(authFilePath({ XDG_CONFIG_HOME: '/x', HOME: '/h' })).toBe('/x/strata/auth.json');
    expect(authFilePath({ HOME: '/h' })).toBe('/h/.config/strata/auth.json');
  });

  it('stores, reads and removes credentials in a 0600 file inside a 0700 directory', async () => {
    const env = { STRATA_CONFIG: join(temp(), 'nested', 'config') };
    expect(await credentialsFor(env, 'r:1')).toBeNull();
    const path = await storeCredentials(env, 'r:1', 'ci', 'p:a:s:s');
    await storeCredentials(env, 'other:2', 'x', 'y');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(env.STRATA_CONFIG).mode & 0o777).toBe(0o700);
    expect(await credentialsFor(env, 'r:1')).toEqual({ username: 'ci', password: 'p:a:s:s', serveraddress: 'r:1' });
    const header = registryAuthHeader(await credentialsFor(env, 'r:1'))['X-Registry-Auth']!;
    expect(JSON.parse(Buffer.from(header, 'base64').toString())).toEqual({ username: 'ci', password: 'p:a:s:s', serveraddress: 'r:1' });
    expect(registryAuthHeader(null)).toEqual({});
    expect(await removeCredentials(env, 'r:1')).toBe(true);
    expect(await removeCredentials(env, 'r:1')).toBe(false);
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')).auths)).toEqual(['other:2']);
  });
});

/**
 * Credentials for remote registries, kept by the CLI (never by the node): `auth.json` in
 * `$STRATA_CONFIG`, else `$XDG_CONFIG_HOME/strata`, else `~/.config/strata`, in Docker's config.json
 * shape (`{"auths": {"host:port": {"auth": base64("user:password")}}}`), mode 0600 in a 0700 directory.
 * Sent to the node only with the pull/push/login request that needs them, in X-Registry-Auth.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { RegistryAuth } from '@strata/api';
import { LocalError } from '../errors.js';

interface AuthFile {
  auths: Record<string, { auth: string }>;
}

export function authFilePath(env: NodeJS.ProcessEnv): string {
  if (env.STRATA_CONFIG) return join(env.STRATA_CONFIG, 'auth.json');
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'strata', 'auth.json');
}

/** Docker's rule: the first path component is a registry when it has a '.' or ':' or is localhost; else Docker Hub. */
export function registryOf(remote: string): string {
  const slash = remote.indexOf('/');
  const first = slash > 0 ? remote.slice(0, slash) : '';
  return first && (first.includes('.') || first.includes(':') || first === 'localhost') ? first.toLowerCase() : 'docker.io';
}

async function load(path: string): Promise<AuthFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { auths: {} };
    throw new LocalError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<AuthFile>;
    return { ...parsed, auths: parsed.auths && typeof parsed.auths === 'object' ? parsed.auths : {} };
  } catch {
    throw new LocalError(`${path} is not JSON: fix or remove it (strata login writes it again)`);
  }
}

/** Written whole (temp file, then rename), never readable by others, not even for a moment. */
async function save(path: string, file: AuthFile): Promise<void> {
  const dir = join(path, '..');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(temp, 0o600);
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw new LocalError(`cannot write ${path}: ${(error as Error).message}`);
  }
}

export async function storeCredentials(env: NodeJS.ProcessEnv, registry: string, username: string, password: string): Promise<string> {
  const path = authFilePath(env);
  const file = await load(path);
  file.auths[registry] = { auth: Buffer.from(`${username}:${password}`, 'utf8').toString('base64') };
  await save(path, file);
  return path;
}

/** True when there was something to remove. */
export async function removeCredentials(env: NodeJS.ProcessEnv, registry: string): Promise<boolean> {
  const path = authFilePath(env);
  const file = await load(path);
  if (!(registry in file.auths)) return false;
  delete file.auths[registry];
  await save(path, file);
  return true;
}

export async function credentialsFor(env: NodeJS.ProcessEnv, registry: string): Promise<RegistryAuth | null> {
  const entry = (await load(authFilePath(env))).auths[registry];
  if (!entry?.auth) return null;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: registry };
}

/** The X-Registry-Auth header's value (base64 of the JSON), or no header. */
export function registryAuthHeader(auth: RegistryAuth | null): Record<string, string> {
  return auth ? { 'X-Registry-Auth': Buffer.from(JSON.stringify(auth), 'utf8').toString('base64') } : {};
}

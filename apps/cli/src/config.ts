/** Where the node is and who we are to it: flags first, then environment, then the local data dir. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from './errors.js';

export const DEFAULT_URL = 'http://127.0.0.1:7070';

export interface CliConfig {
  url: string;
  token: string | null;
  /** Where the token came from, for the hint when the node refuses it. */
  tokenSource: string | null;
}

/**
 * `--url` / STRATA_URL, `--token` / STRATA_TOKEN. Without a token, the admin token a local node wrote
 * on its first start (`$STRATA_DATA_DIR/admin.token`, default `./.strata/admin.token`) is used, so
 * `npm start` followed by `strata repo ls` in the same directory just works.
 */
export function resolveConfig(
  flags: { url?: string; token?: string },
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): CliConfig {
  const url = flags.url ?? env.STRATA_URL ?? DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url "${url}" is not a URL (e.g. ${DEFAULT_URL})`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`--url "${url}": only http:// and https:// are supported`);
  }
  if (flags.token) return { url, token: flags.token, tokenSource: '--token' };
  if (env.STRATA_TOKEN) return { url, token: env.STRATA_TOKEN, tokenSource: 'STRATA_TOKEN' };
  const file = resolve(join(env.STRATA_DATA_DIR ?? './.strata', 'admin.token'));
  try {
    const token = readFile(file).trim();
    if (token) return { url, token, tokenSource: file };
  } catch {
    // No local node data: requests go without a token and the node says 401 (with our hint).
  }
  return { url, token: null, tokenSource: null };
}

import { ADMIN_PRINCIPAL, parseGrant, type Grant } from '@strata/domain';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A principal: who an API token speaks for, and what its grants allow. Becomes the `actor` of every
 * event it causes. The built-in `admin` holds `admin:*`; every other principal's grants come from the
 * event log (its `principal-<name>` stream), never from this file.
 */
export interface Principal {
  name: string;
  grants: readonly Grant[];
}

export const ADMIN: Principal = Object.freeze({ name: ADMIN_PRINCIPAL, grants: Object.freeze([parseGrant('admin:*')]) });

interface StoredToken {
  name: string;
  salt: string;
  hash: string;
}

/** tokens.json as the first slice wrote it: `{principal: {name, role}, salt, hash}`. */
type LegacyStoredToken = { principal: { name: string }; salt: string; hash: string };

const hashToken = (salt: string, token: string) => createHash('sha256').update(salt).update(token).digest('hex');

/** A new API token: 192 random bits, prefixed so secret scanners recognise it. */
export const newApiToken = () => `strata_${randomBytes(24).toString('base64url')}`;

/**
 * API tokens, kept as salted hashes in <dataDir>/tokens.json (0600), never in the event log (the log is
 * immutable and replicated; a secret written there could never be taken back). On first start the
 * node makes an admin token and writes it, readable by the owner only, to <dataDir>/admin.token.
 * The file says only which principal a token belongs to; what the principal may do is in the log.
 */
export class TokenStore {
  private tokens: StoredToken[] = [];
  /** With a fixed admin token, the admin entry the file had: written back instead of the fixed one's. */
  private fixedAdmin: { onDisk: StoredToken | undefined } | null = null;
  private readonly file: string;
  readonly adminTokenFile: string;

  constructor(dataDir: string, fixedAdminToken: string | null) {
    this.file = join(dataDir, 'tokens.json');
    this.adminTokenFile = join(dataDir, 'admin.token');
    if (existsSync(this.file)) {
      const stored = JSON.parse(readFileSync(this.file, 'utf8')) as Array<StoredToken | LegacyStoredToken>;
      this.tokens = stored.map((t) => ('principal' in t ? { name: t.principal.name, salt: t.salt, hash: t.hash } : t));
    }
    if (fixedAdminToken) {
      // A fixed token is held in memory only: changing the variable changes the token.
      this.fixedAdmin = { onDisk: this.tokens.find((t) => t.name === ADMIN_PRINCIPAL) };
      this.tokens = this.tokens.filter((t) => t.name !== ADMIN_PRINCIPAL);
      this.tokens.push(hashed(ADMIN_PRINCIPAL, fixedAdminToken));
    }
  }

  /** Makes the admin token on first start; returns true if it was created now. */
  ensureAdmin(): boolean {
    if (this.tokens.some((t) => t.name === ADMIN_PRINCIPAL)) return false;
    const token = newApiToken();
    this.tokens.push(hashed(ADMIN_PRINCIPAL, token));
    this.save();
    writeFileSync(this.adminTokenFile, `${token}\n`, { mode: 0o600 });
    chmodSync(this.adminTokenFile, 0o600);
    return true;
  }

  /**
   * The node administrator, if this is the admin token; null for any other token. Callers that cannot
   * consult the log for grants (the NATS gateway) use this, so they stay admin-only; everything that
   * knows grants asks `Principals.authenticate` instead.
   */
  authenticate(token: string): Principal | null {
    return this.identify(token) === ADMIN_PRINCIPAL ? ADMIN : null;
  }

  /** The name of the principal this token belongs to, or null. Checks every entry (constant work per entry). */
  identify(token: string): string | null {
    let found: string | null = null;
    for (const stored of this.tokens) {
      const candidate = Buffer.from(hashToken(stored.salt, token), 'hex');
      if (timingSafeEqual(candidate, Buffer.from(stored.hash, 'hex')) && found === null) found = stored.name;
    }
    return found;
  }

  /** The hashed entry for `name`, to put back if a command that followed `set` failed. */
  entry(name: string): StoredToken | undefined {
    return this.tokens.find((t) => t.name === name);
  }

  /** Gives `name` this token (replacing any it had), written to disk before it returns. */
  set(name: string, token: string): void {
    this.restore(name, hashed(name, token));
  }

  /** Puts back an entry `entry` returned (or removes the name's entry when undefined). */
  restore(name: string, entry: StoredToken | undefined): void {
    this.tokens = this.tokens.filter((t) => t.name !== name);
    if (entry) this.tokens.push(entry);
    this.save();
  }

  remove(name: string): void {
    this.restore(name, undefined);
  }

  private save(): void {
    // Written whole, then renamed over the old file: a crash leaves one or the other, never half.
    const temporary = `${this.file}.tmp`;
    const fixed = this.fixedAdmin;
    const kept = fixed ? [...this.tokens.filter((t) => t.name !== ADMIN_PRINCIPAL), ...(fixed.onDisk ? [fixed.onDisk] : [])] : this.tokens;
    writeFileSync(temporary, JSON.stringify(kept, null, 2), { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, this.file);
  }
}

function hashed(name: string, token: string): StoredToken {
  const salt = randomBytes(16).toString('hex');
  return { name, salt, hash: hashToken(salt, token) };
}

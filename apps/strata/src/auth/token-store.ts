import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A principal: who an API token speaks for. Becomes the `actor` of every event it causes. */
export interface Principal {
  name: string;
  role: 'admin';
}

interface StoredToken {
  principal: Principal;
  salt: string;
  hash: string;
}

const hashToken = (salt: string, token: string) => createHash('sha256').update(salt).update(token).digest('hex');

/**
 * API tokens, kept as salted hashes in <dataDir>/tokens.json, never in the event log (the log is
 * immutable and replicated; a secret written there could never be taken back). On first start the
 * node makes an admin token and writes it, readable by the owner only, to <dataDir>/admin.token.
 */
export class TokenStore {
  private tokens: StoredToken[] = [];
  private readonly file: string;
  readonly adminTokenFile: string;

  constructor(dataDir: string, fixedAdminToken: string | null) {
    this.file = join(dataDir, 'tokens.json');
    this.adminTokenFile = join(dataDir, 'admin.token');
    if (existsSync(this.file)) this.tokens = JSON.parse(readFileSync(this.file, 'utf8')) as StoredToken[];
    if (fixedAdminToken) {
      // A fixed token is held in memory only: changing the variable changes the token.
      this.tokens = this.tokens.filter((t) => t.principal.name !== 'admin');
      this.tokens.push(this.hashed({ name: 'admin', role: 'admin' }, fixedAdminToken));
    }
  }

  /** Makes the admin token on first start; returns true if it was created now. */
  ensureAdmin(): boolean {
    if (this.tokens.some((t) => t.principal.name === 'admin')) return false;
    const token = `strata_${randomBytes(24).toString('base64url')}`;
    this.tokens.push(this.hashed({ name: 'admin', role: 'admin' }, token));
    writeFileSync(this.file, JSON.stringify(this.tokens, null, 2), { mode: 0o600 });
    writeFileSync(this.adminTokenFile, `${token}\n`, { mode: 0o600 });
    chmodSync(this.adminTokenFile, 0o600);
    return true;
  }

  authenticate(token: string): Principal | null {
    for (const stored of this.tokens) {
      const candidate = Buffer.from(hashToken(stored.salt, token), 'hex');
      if (timingSafeEqual(candidate, Buffer.from(stored.hash, 'hex'))) return stored.principal;
    }
    return null;
  }

  private hashed(principal: Principal, token: string): StoredToken {
    const salt = randomBytes(16).toString('hex');
    return { principal, salt, hash: hashToken(salt, token) };
  }
}

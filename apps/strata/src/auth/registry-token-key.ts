import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';

/**
 * The key that signs the registry's short-lived tokens: 32 random bytes in <dataDir>/registry-token.key,
 * readable by the owner only, made on first use. Deleting the file invalidates every token issued
 * (they last five minutes anyway). It is a secret: never in the log.
 */
@Injectable()
export class RegistryTokenKey {
  readonly key: Buffer;

  constructor(@Inject(NODE_CONFIG) config: NodeConfig) {
    const file = join(config.dataDir, 'registry-token.key');
    if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    this.key = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
    if (this.key.length < 32) throw new Error(`${file} must hold at least 32 bytes as hex`);
  }
}

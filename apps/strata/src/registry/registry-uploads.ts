import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { UploadSessions } from '@strata/registry';
import { join } from 'node:path';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';

/** The sweep runs a few times per TTL, at most every minute: an expired upload's data does not linger long. */
const sweepEvery = (ttlMs: number) => Math.max(50, Math.min(ttlMs / 4, 60_000));

/**
 * The node's upload sessions (<dataDir>/uploads). One untouched for STRATA_UPLOAD_TTL_MS (default an
 * hour) was abandoned by its client: it answers BLOB_UPLOAD_UNKNOWN from then on, and the sweep removes
 * its data.
 */
@Injectable()
export class RegistryUploads implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('registry');
  private opened: UploadSessions | null = null;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(@Inject(NODE_CONFIG) private readonly config: NodeConfig) {}

  get sessions(): UploadSessions {
    if (!this.opened) throw new Error('RegistryUploads used before the module was initialised');
    return this.opened;
  }

  async onModuleInit(): Promise<void> {
    this.opened = await UploadSessions.open(join(this.config.dataDir, 'uploads'), { ttlMs: this.config.uploadTtlMs });
    await this.sweep();
    this.sweeper = setInterval(() => void this.sweep(), sweepEvery(this.config.uploadTtlMs));
    this.sweeper.unref();
  }

  onApplicationShutdown(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  private async sweep(): Promise<void> {
    try {
      const removed = await this.sessions.removeStale(new Date(Date.now() - this.config.uploadTtlMs));
      if (removed > 0) this.logger.log({ msg: 'removed abandoned uploads', uploads: removed });
    } catch (error) {
      this.logger.warn({ msg: 'upload sweep failed', error: String(error) });
    }
  }
}

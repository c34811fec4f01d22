import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { UploadSessions } from '@strata/registry';
import { join } from 'node:path';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';

/** An upload nobody touched for this long was abandoned by its client. */
const ABANDONED_AFTER_MS = 24 * 60 * 60 * 1000;
const SWEEP_EVERY_MS = 60 * 60 * 1000;

/** The node's upload sessions (<dataDir>/uploads), with abandoned ones swept away hourly. */
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
    this.opened = await UploadSessions.open(join(this.config.dataDir, 'uploads'));
    await this.sweep();
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  onApplicationShutdown(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  private async sweep(): Promise<void> {
    try {
      const removed = await this.sessions.removeStale(new Date(Date.now() - ABANDONED_AFTER_MS));
      if (removed > 0) this.logger.log({ msg: 'removed abandoned uploads', uploads: removed });
    } catch (error) {
      this.logger.warn({ msg: 'upload sweep failed', error: String(error) });
    }
  }
}

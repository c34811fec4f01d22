import { Injectable } from '@nestjs/common';
import type { ImageView } from '@strata/api';
import type { BuildStepCompletedData } from '@strata/domain';
import { createHash } from 'node:crypto';
import { ReadModels } from '../projections/read-models.service.js';

/** sha256 over what a step depends on (canonical JSON of the parts): the build cache's key. */
export function cacheKey(parts: Record<string, unknown>): string {
  return `sha256:${createHash('sha256').update(JSON.stringify({ v: 1, ...parts })).digest('hex')}`;
}

/**
 * The build cache, derived from the log: every BuildStepCompleted carries its cache key and the image
 * it produced. Read incrementally from the audit read model (a replay rebuilds it with everything
 * else); a hit counts only while its image still exists.
 */
@Injectable()
export class BuildCache {
  private readonly byKey = new Map<string, string>();
  private after = 0;

  constructor(private readonly reads: ReadModels) {}

  async lookup(key: string): Promise<ImageView | null> {
    await this.catchUp();
    const manifestDigest = this.byKey.get(key);
    if (!manifestDigest) return null;
    return this.reads.engine.getImage(manifestDigest);
  }

  private async catchUp(): Promise<void> {
    await this.reads.catchUpToHead();
    // A replay swaps the read database in: positions stay those of the log, so `after` stays valid.
    for (;;) {
      const page = await this.reads.engine.queryEvents({ types: ['BuildStepCompleted'], after: this.after, limit: 1000 });
      for (const event of page.items) {
        const data = event.data as BuildStepCompletedData;
        if (data.cacheKey) this.byKey.set(data.cacheKey, data.manifestDigest);
        this.after = event.position;
      }
      if (page.next === null) return;
    }
  }
}

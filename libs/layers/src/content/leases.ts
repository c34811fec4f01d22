import { parseDigest } from './digest.js';

/**
 * A hold on blobs that no event references yet. An import writes its blobs first and appends its
 * event last; between the two the blobs are not live in any projection, and prune must not take them.
 * Leases are in-process only: they protect work this node is doing now, and vanish with it (after a
 * crash, prune's grace period protects the orphans of an interrupted import until they are truly stale).
 */
export interface ContentLease {
  /** Holds one more blob (the store's `put` calls this once it knows the digest). */
  add(digest: string): void;
  /** Lets go of every blob this lease holds. Idempotent. */
  release(): void;
  readonly digests: ReadonlySet<string>;
}

export class ContentLeases {
  /** digest → how many live leases hold it. */
  private readonly holders = new Map<string, number>();

  /** A lease on `digests` (and on whatever is added to it later), held until `release()`. */
  acquire(digests: Iterable<string> = []): ContentLease {
    const held = new Set<string>();
    let released = false;
    const lease: ContentLease = {
      digests: held,
      add: (digest) => {
        if (released) throw new Error('ContentLease.add after release');
        parseDigest(digest);
        if (held.has(digest)) return;
        held.add(digest);
        this.holders.set(digest, (this.holders.get(digest) ?? 0) + 1);
      },
      release: () => {
        if (released) return;
        released = true;
        for (const digest of held) {
          const count = (this.holders.get(digest) ?? 1) - 1;
          if (count > 0) this.holders.set(digest, count);
          else this.holders.delete(digest);
        }
      },
    };
    for (const digest of digests) lease.add(digest);
    return lease;
  }

  isHeld(digest: string): boolean {
    return this.holders.has(digest);
  }

  /** How many distinct blobs are held (for metrics and tests). */
  get size(): number {
    return this.holders.size;
  }
}

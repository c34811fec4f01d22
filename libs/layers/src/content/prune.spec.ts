import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Digest } from './digest.js';
import { FsContentStore } from './fs-content-store.js';
import { ContentLeases } from './leases.js';
import { pruneContent } from './prune.js';

const HOUR = 60 * 60 * 1000;

describe('pruneContent', () => {
  let root: string;
  let store: FsContentStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-prune-'));
    store = await FsContentStore.open(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** A blob written `ageMs` ago. */
  const blob = async (content: string, ageMs: number) => {
    const info = await store.putBytes(content);
    const then = new Date(Date.now() - ageMs);
    await utimes(store.pathOf(info.digest), then, then);
    return info;
  };

  it('removes old blobs nothing needs, and keeps live ones', async () => {
    const live = await blob('live', 2 * HOUR);
    const dead = await blob('dead!', 2 * HOUR);
    const result = await pruneContent(store, { isLive: (d) => d === live.digest, olderThan: new Date(Date.now() - HOUR) });
    expect(result).toEqual({ removed: [dead], freedBytes: 5 });
    expect(await store.has(live.digest)).toBe(true);
    expect(await store.has(dead.digest)).toBe(false);
  });

  it('never removes a blob newer than the grace period (an import that has not appended its event yet)', async () => {
    const fresh = await blob('in flight', 10 * 1000);
    const result = await pruneContent(store, { isLive: () => false, olderThan: new Date(Date.now() - HOUR) });
    expect(result.removed).toEqual([]);
    expect(await store.has(fresh.digest)).toBe(true);
  });

  it('never removes a leased blob, however old, until the lease is released', async () => {
    const leases = new ContentLeases();
    const held = await blob('held', 5 * HOUR);
    const lease = leases.acquire([held.digest]);
    const options = { isLive: () => false, olderThan: new Date(Date.now() - HOUR), leases };
    expect((await pruneContent(store, options)).removed).toEqual([]);
    lease.release();
    expect((await pruneContent(store, options)).removed).toEqual([held]);
  });

  it('counts a blob held by two leases until both let go', () => {
    const leases = new ContentLeases();
    const digest = sha256Digest('shared');
    const a = leases.acquire([digest]);
    const b = leases.acquire();
    b.add(digest);
    a.release();
    a.release(); // idempotent
    expect(leases.isHeld(digest)).toBe(true);
    b.release();
    expect(leases.isHeld(digest)).toBe(false);
    expect(leases.size).toBe(0);
  });

  it('reports without deleting on a dry run', async () => {
    const dead = await blob('dead', 2 * HOUR);
    const result = await pruneContent(store, { isLive: () => false, olderThan: new Date(Date.now() - HOUR), dryRun: true });
    expect(result).toEqual({ removed: [dead], freedBytes: 4 });
    expect(await store.has(dead.digest)).toBe(true);
  });

  it('a put racing a delete of the same blob ends with the blob stored', async () => {
    const leases = new ContentLeases();
    const old = await blob('raced', 2 * HOUR);
    // Prune deletes; in the same tick an import puts the same bytes under a lease.
    const deleting = store.delete(old.digest);
    const lease = leases.acquire();
    const putting = store.putBytes('raced', { expectedDigest: old.digest, lease });
    await Promise.all([deleting, putting]);
    expect(await store.has(old.digest)).toBe(true);
    expect(leases.isHeld(old.digest)).toBe(true);
  });
});

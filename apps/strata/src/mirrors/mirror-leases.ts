import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

/** One key per mirror (the mirror id): the node that runs it. Entries expire after the bucket's TTL. */
export const MIRROR_LEASE_BUCKET = 'strata_mirror_leases';

/** What a lease says: who runs the mirror, whether that node holds the mirror's credentials, since when. */
export interface MirrorLease {
  node: string;
  credentials: boolean;
  since: string;
}

export interface MirrorLeaseOptions {
  nodeId: string;
  /** A lease not renewed for this long lapses (the bucket's max age): the delay before a dead holder's mirror is taken over. */
  ttlMs: number;
  /** How often held leases are renewed and free ones looked for. */
  heartbeatMs: number;
  replicas: number;
  /** The mirrors this node may run now, and whether it holds each one's credentials. */
  wanted(): Array<{ id: string; credentials: boolean }>;
  /** This node now holds the lease: start the worker. */
  gained(id: string): void;
  /** This node no longer holds the lease (taken over, or not renewed in time): stop the worker. */
  lost(id: string, why: string): void;
  log(level: 'log' | 'warn', message: Record<string, unknown>): void;
}

interface Held {
  revision: number;
  renewedAt: number;
  since: string;
}

/**
 * Who runs each mirror on a shared (JetStream) log: a JetStream KV key per mirror, taken with create
 * (refused when present), renewed every heartbeat by an update that expects the revision this node
 * wrote last (refused when another node took the key meanwhile), deleted on a clean stop or removal.
 * The bucket's max age is the lease's TTL: the key of a node that died expires and the next round of
 * any other node takes it. A node holding the mirror's credentials takes a lease held by one that
 * does not (a mirror added with credentials is best run by a node that has them); the loser notices
 * at its next renewal. A holder that could not renew for a TTL less a heartbeat (a NATS outage)
 * stops its worker before anyone else can have taken the key.
 */
export class MirrorLeases {
  private readonly held = new Map<string, Held>();
  /** Another node's lease seen in the last round: mirror id → its holder (null: nobody). */
  private readonly seen = new Map<string, string | null>();
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private failing = false;

  private constructor(
    private readonly kv: KV,
    private readonly options: MirrorLeaseOptions,
  ) {}

  static async open(nc: NatsConnection, options: MirrorLeaseOptions): Promise<MirrorLeases> {
    const kv = await new Kvm(nc).create(MIRROR_LEASE_BUCKET, { ttl: options.ttlMs, replicas: options.replicas, history: 1 });
    return new MirrorLeases(kv, options);
  }

  start(): void {
    this.timer = setInterval(() => void this.poke(), this.options.heartbeatMs);
    this.timer.unref();
    void this.poke();
  }

  /** A round now (or right after the one running): renew what is held, take what is free. */
  poke(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.round) {
      this.again = true;
      return this.round;
    }
    this.round = (async () => {
      do {
        this.again = false;
        await this.renewAndTake();
      } while (this.again && !this.stopped);
    })().finally(() => (this.round = null));
    return this.round;
  }

  holds(id: string): boolean {
    return this.held.has(id);
  }

  /** The node that runs the mirror, as far as this node knows (its own id, another's, or null while nobody holds it). */
  runner(id: string): string | null {
    return this.held.has(id) ? this.options.nodeId : (this.seen.get(id) ?? null);
  }

  /** No more rounds (held leases stay until released). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.round;
  }

  /** Gives the lease up (the mirror was removed, or this node stops): another node may take it at once. */
  async release(id: string): Promise<void> {
    await this.round; // not while a round may be renewing it
    await this.releaseNow(id);
  }

  async releaseAll(): Promise<void> {
    await this.round;
    await Promise.all([...this.held.keys()].map((id) => this.releaseNow(id)));
  }

  private async releaseNow(id: string): Promise<void> {
    const held = this.held.get(id);
    if (!held) return;
    this.held.delete(id);
    this.seen.set(id, null);
    try {
      await this.kv.delete(id, { previousSeq: held.revision });
    } catch (error) {
      // Taken over meanwhile (not ours to delete), or NATS is away: either way the key is no longer renewed.
      this.options.log('warn', { msg: 'mirror lease not released', mirror: id, error: String(error) });
    }
  }

  private async renewAndTake(): Promise<void> {
    const wanted = this.options.wanted();
    const ids = new Set(wanted.map((w) => w.id));
    for (const id of [...this.held.keys()]) if (!ids.has(id)) await this.releaseNow(id);
    for (const id of [...this.seen.keys()]) if (!ids.has(id)) this.seen.delete(id);
    let failed: unknown = null;
    for (const mirror of wanted) {
      if (this.stopped) return;
      try {
        await this.step(mirror.id, mirror.credentials);
      } catch (error) {
        failed ??= error;
      }
    }
    if (failed && !this.failing) this.options.log('warn', { msg: 'mirror leases: NATS did not answer, trying again every heartbeat', error: String(failed) });
    if (!failed && this.failing) this.options.log('log', { msg: 'mirror leases: NATS answers again' });
    this.failing = failed !== null;
  }

  private async step(id: string, credentials: boolean): Promise<void> {
    const held = this.held.get(id);
    if (held) {
      if (Date.now() - held.renewedAt > this.options.ttlMs - this.options.heartbeatMs) {
        // Not renewed for almost a TTL: the key may lapse any moment and another node take it. Stop first.
        this.drop(id, 'lease not renewed in time');
        return;
      }
      try {
        held.revision = await this.kv.update(id, this.value(credentials, held.since), held.revision);
        held.renewedAt = Date.now();
      } catch (error) {
        if (!isWrongRevision(error)) throw error;
        this.drop(id, 'lease taken by another node');
      }
      return;
    }
    const entry = await this.kv.get(id);
    const lease = entry && entry.operation === 'PUT' ? parseLease(entry) : null;
    this.seen.set(id, lease?.node ?? null);
    // Somebody runs it: stay on standby, unless this node has the credentials and the runner has not.
    if (lease && lease.node !== this.options.nodeId && !(credentials && !lease.credentials)) return;
    const since = new Date().toISOString();
    let revision: number;
    try {
      // A free key is created; a key this node may take (its own from before a restart, or an
      // anonymous runner's) is updated on the revision just read, so a concurrent renewal wins.
      revision = lease && entry ? await this.kv.update(id, this.value(credentials, since), entry.revision) : await this.kv.create(id, this.value(credentials, since));
    } catch (error) {
      if (isWrongRevision(error)) return; // another node was faster: next round says who
      throw error;
    }
    this.held.set(id, { revision, renewedAt: Date.now(), since });
    this.seen.delete(id);
    this.options.log('log', { msg: 'mirror lease taken', mirror: id, from: lease?.node ?? null });
    this.options.gained(id);
  }

  private drop(id: string, why: string): void {
    this.held.delete(id);
    this.seen.set(id, null);
    this.options.log('warn', { msg: 'mirror lease lost', mirror: id, why });
    this.options.lost(id, why);
  }

  private value(credentials: boolean, since: string): string {
    return JSON.stringify({ node: this.options.nodeId, credentials, since } satisfies MirrorLease);
  }
}

function parseLease(entry: KvEntry): MirrorLease | null {
  try {
    const lease = entry.json<MirrorLease>();
    return typeof lease?.node === 'string' ? lease : null;
  } catch {
    return null;
  }
}

/** JetStream's "wrong last sequence" (10071, or 10164 when it cannot tell): the key moved since the revision given. */
function isWrongRevision(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 10071 || code === 10164;
}

/**
 * Realistic repository events, generated deterministically: each repository is created, then its
 * tags are pointed at new digests again and again (tags moving: previousDigest is the old target),
 * with an occasional untag and visibility change. Shared by every contender so all write and read the
 * same events.
 */
import { createHash } from 'node:crypto';

export interface BenchEvent {
  eventId: string;
  streamId: string;
  /** 1-based version in its stream. */
  version: number;
  type: string;
  schemaVersion: number;
  data: Record<string, unknown>;
  /** The Strata command that decides exactly this event. */
  command: { name: string; input: Record<string, unknown> };
}

const TAGS = ['latest', 'stable', 'edge', 'v1', 'v1.2', 'v2', 'nightly', 'canary'];
const digest = (n: number) => `sha256:${createHash('sha256').update(String(n)).digest('hex')}`;
const uuid = (n: number) => {
  const h = createHash('sha256').update(`bench/${n}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

export const repoName = (i: number) => `team${i % 97}/service-${i}`;
export const streamOf = (i: number) => `repository-${repoName(i)}`;

/**
 * `streams` repositories of `perStream` events each, returned per stream (in version order).
 * mix 'tags': only creates and tag moves (what the command path can replay deterministically).
 * mix 'full': also untags and visibility changes, for the read/replay workload.
 */
export function repositoryStreams(streams: number, perStream: number, mix: 'tags' | 'full' = 'tags'): BenchEvent[][] {
  let n = 0;
  const out: BenchEvent[][] = [];
  for (let s = 0; s < streams; s++) {
    const name = repoName(s);
    const streamId = streamOf(s);
    const tags = new Map<string, string>();
    let visibility = 'private';
    const events: BenchEvent[] = [];
    const push = (type: string, schemaVersion: number, data: Record<string, unknown>, command: BenchEvent['command']) =>
      events.push({ eventId: uuid(n++), streamId, version: events.length + 1, type, schemaVersion, data, command });
    push('RepositoryCreated', 2, { name, visibility }, { name: 'CreateRepository', input: { name, visibility } });
    for (let v = 2; v <= perStream; v++) {
      const tag = TAGS[(v * 7 + s) % TAGS.length];
      const roll = (v * 31 + s * 17) % 50;
      if (mix === 'full' && roll === 0 && tags.has(tag)) {
        push('ImageUntagged', 1, { name, tag, previousDigest: tags.get(tag)! }, { name: 'UntagImage', input: { name, tag } });
        tags.delete(tag);
      } else if (mix === 'full' && roll === 1) {
        const next = visibility === 'private' ? 'public' : 'private';
        push('RepositoryVisibilityChanged', 1, { name, visibility: next, previousVisibility: visibility }, {
          name: 'SetRepositoryVisibility',
          input: { name, visibility: next },
        });
        visibility = next;
      } else {
        const d = digest(n);
        push('ImageTagged', 1, { name, tag, digest: d, previousDigest: tags.get(tag) ?? null }, {
          name: 'TagImage',
          input: { name, tag, digest: d },
        });
        tags.set(tag, d);
      }
    }
    out.push(events);
  }
  return out;
}

/** Round-robin across streams: the order one sequential writer appends them in (and the log's order). */
export function interleave(streams: BenchEvent[][]): BenchEvent[] {
  const out: BenchEvent[] = [];
  const longest = Math.max(...streams.map((s) => s.length));
  for (let v = 0; v < longest; v++) for (const s of streams) if (v < s.length) out.push(s[v]);
  return out;
}

export const OCCURRED_AT = '2026-11-28T00:00:00.000Z';
export const metaOf = (e: BenchEvent) => ({
  commandId: `cmd-${e.eventId}`,
  actor: 'bench',
  correlationId: `cmd-${e.eventId}`,
  causationId: null,
  occurredAt: OCCURRED_AT,
  nodeId: 'bench-node',
});

/** The event as Strata's store takes it. */
export const proposed = (e: BenchEvent) => ({
  eventId: e.eventId,
  type: e.type,
  schemaVersion: e.schemaVersion,
  occurredAt: OCCURRED_AT,
  actor: 'bench',
  correlationId: `cmd-${e.eventId}`,
  causationId: null,
  nodeId: 'bench-node',
  data: e.data,
});

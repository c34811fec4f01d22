import 'reflect-metadata';
import { domainUpcasters, fold, imageDecider, imageStreamId, repositoryDecider, type ProposedEvent } from '@strata/domain';
import { ConcurrencyError, SqliteEventStore, type AppendOptions, type EventStore, type ExpectedVersion } from '@strata/eventstore';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Metrics } from '../metrics/metrics.js';
import { AggregateStates } from './aggregate-states.js';
import { commandMeta } from './command-meta.js';
import { ExecuteCommand } from './execute-command.js';
import { ExecuteCommandHandler, MAX_ATTEMPTS } from './execute-command.handler.js';

const digest = (n: number) => `sha256:${String(n).padStart(64, '0')}`;
const meta = (id: string) => ({ commandId: id, actor: 't', correlationId: id, causationId: null, occurredAt: '2026-01-01T00:00:00.000Z', nodeId: 'n' });

/**
 * A real SQLite store with a real competing writer: before each of our appends, the competitor
 * appends to the same stream first (for the first `wins` attempts), so the race is lost on purpose.
 */
function racedStore(store: SqliteEventStore, wins: number): EventStore & { attempts: number } {
  const raced = Object.create(store) as EventStore & { attempts: number };
  raced.attempts = 0;
  return Object.assign(raced, {
    async append(streamId: string, expected: ExpectedVersion, events: ProposedEvent[], options: AppendOptions) {
      const attempts = ++raced.attempts;
      if (attempts <= wins) {
        await store.append(streamId, 'any', [{ ...events[0], eventId: `rival-${attempts}`, data: { name: 'raced', tag: `rival${attempts}`, digest: digest(attempts), previousDigest: null } }], { commandId: `rival-${attempts}` });
      }
      return store.append(streamId, expected, events, options);
    },
  });
}

// The handler outside Nest: the EventBus, the image resolver and the content store are not under test
// here (these commands never use them), so inert stand-ins take their place.
const handlerWith = (s: EventStore) =>
  new ExecuteCommandHandler(s, { publishAll: () => undefined } as never, new Metrics(), {} as never, {} as never, {} as never);

describe('ExecuteCommandHandler', () => {
  let dir: string;
  let store: SqliteEventStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-handler-'));
    store = new SqliteEventStore({ path: join(dir, 'strata.db'), upcasters: domainUpcasters() });
    await handlerWith(store).execute(new ExecuteCommand('CreateRepository', { name: 'raced' }, meta('create')));
    // Tags point only at images the log knows: record the one the racers tag.
    await store.append(imageStreamId(digest(99)), 'no-stream', [
      { ...meta('image'), eventId: 'image-99', type: 'ImageCreated', schemaVersion: 1, data: { manifestDigest: digest(99), imageId: digest(98) } },
    ], { commandId: 'image' });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });


  it('decides again after a lost race and succeeds while the retries last', async () => {
    const raced = racedStore(store, MAX_ATTEMPTS - 1);
    const reply = await handlerWith(raced).execute(new ExecuteCommand('TagImage', { name: 'raced', tag: 'mine', digest: digest(99) }, meta('mine')));
    expect(raced.attempts).toBe(MAX_ATTEMPTS);
    expect(reply).toMatchObject({ events: ['ImageTagged'], version: 1 + MAX_ATTEMPTS, duplicate: false });
  });

  it('marks only the first append of an id it minted as fresh (no lookup); a retry, or an id from a header, is looked up', async () => {
    const seen: Array<boolean | undefined> = [];
    const raced = racedStore(store, 1);
    const spied = Object.assign(Object.create(raced) as EventStore, {
      append: (streamId: string, expected: ExpectedVersion, events: ProposedEvent[], options: AppendOptions) => {
        seen.push(options.fresh);
        return raced.append(streamId, expected, events, options);
      },
    });
    const minted = commandMeta('t', () => undefined, 'n');
    await handlerWith(spied).execute(new ExecuteCommand('TagImage', { name: 'raced', tag: 'mine', digest: digest(99) }, minted));
    expect(seen).toEqual([true, false]); // the lost race's retry may not skip the lookup
    // Run again with the same meta (a service reusing it): the id is no longer fresh.
    await handlerWith(spied).execute(new ExecuteCommand('TagImage', { name: 'raced', tag: 'other', digest: digest(99) }, minted));
    expect(seen.at(-1)).toBe(false);
    const given = commandMeta('t', (h) => (h === 'Idempotency-Key' ? 'from-the-client' : undefined), 'n');
    await handlerWith(spied).execute(new ExecuteCommand('TagImage', { name: 'raced', tag: 'third', digest: digest(99) }, given));
    expect(seen.at(-1)).toBe(false);
  });

  it('gives up after MAX_ATTEMPTS lost races with a ConcurrencyError (HTTP 409) and appends nothing of its own', async () => {
    const raced = racedStore(store, MAX_ATTEMPTS);
    await expect(
      handlerWith(raced).execute(new ExecuteCommand('TagImage', { name: 'raced', tag: 'mine', digest: digest(99) }, meta('mine'))),
    ).rejects.toBeInstanceOf(ConcurrencyError);
    expect(raced.attempts).toBe(MAX_ATTEMPTS);
    expect(await store.readCommand('mine')).toEqual([]);
  });
});

describe('ExecuteCommandHandler with its cache of folded states', () => {
  let dir: string;
  let store: SqliteEventStore;
  /** Counts the reads of each stream through `counted`. */
  let reads: Map<string, number>;
  let counted: EventStore;
  const run = (h: ExecuteCommandHandler, name: string, input: object, id: string) => h.execute(new ExecuteCommand(name, input, meta(id)));
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-handler-cache-'));
    store = new SqliteEventStore({ path: join(dir, 'strata.db'), upcasters: domainUpcasters() });
    reads = new Map();
    counted = Object.assign(Object.create(store) as EventStore, {
      readStream(streamId: string, options?: object) {
        reads.set(streamId, (reads.get(streamId) ?? 0) + 1);
        return store.readStream(streamId, options);
      },
    });
    for (const n of [1, 2, 3]) {
      await store.append(imageStreamId(digest(n)), 'no-stream', [
        { ...meta(`image-${n}`), eventId: `image-${n}`, type: 'ImageCreated', schemaVersion: 1, data: { manifestDigest: digest(n), imageId: digest(n) } },
      ], { commandId: `image-${n}` });
    }
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a stream once, then decides on the cached state and keeps it in step with its appends', async () => {
    const states = new AggregateStates();
    const h = new ExecuteCommandHandler(counted, { publishAll: () => undefined } as never, new Metrics(), {} as never, {} as never, {} as never, states);
    await run(h, 'CreateRepository', { name: 'acme' }, 'c1');
    await run(h, 'TagImage', { name: 'acme', tag: 'a', digest: digest(1) }, 'c2');
    const last = await run(h, 'TagImage', { name: 'acme', tag: 'b', digest: digest(2) }, 'c3');
    expect(reads.get('repository-acme')).toBe(1);
    expect(last).toMatchObject({ version: 3, events: ['ImageTagged'], duplicate: false });
    // The cached state is the one a fresh fold of the log gives.
    const folded = fold(repositoryDecider, (await store.readStream('repository-acme')) as never[]);
    expect(states.get('repository-acme', repositoryDecider)).toEqual({ version: 3, state: folded });
  });

  it('a state made stale by another writer (another node) is caught by the append and decided again on a fresh read', async () => {
    const h = new ExecuteCommandHandler(counted, { publishAll: () => undefined } as never, new Metrics(), {} as never, {} as never, {} as never);
    const other = handlerWith(store); // another node on the same log, with its own cache
    await run(h, 'CreateRepository', { name: 'acme' }, 'c1');
    await run(other, 'TagImage', { name: 'acme', tag: 'theirs', digest: digest(1) }, 'o1');
    // h's cache says version 1, no tags: its append expects 1, is refused, and h reads the stream again.
    const reply = await run(h, 'TagImage', { name: 'acme', tag: 'mine', digest: digest(2) }, 'c2');
    expect(reply).toMatchObject({ version: 3, events: ['ImageTagged'], duplicate: false });
    expect(reads.get('repository-acme')).toBe(2);
    // A refusal or "nothing to do" from a cached state is never the answer either: both read again.
    await run(other, 'UntagImage', { name: 'acme', tag: 'mine' }, 'o2');
    await run(other, 'SetRepositoryVisibility', { name: 'acme', visibility: 'public' }, 'o3');
    await expect(run(h, 'UntagImage', { name: 'acme', tag: 'mine' }, 'c3')).rejects.toMatchObject({ code: 'TAG_NOT_FOUND' });
    await run(other, 'TagImage', { name: 'acme', tag: 'late', digest: digest(3) }, 'o4');
    expect(await run(h, 'UntagImage', { name: 'acme', tag: 'late' }, 'c4')).toMatchObject({ version: 7, events: ['ImageUntagged'] });
    // h's cache now says public; the log is made private again: "already public" must not be h's answer.
    await run(other, 'SetRepositoryVisibility', { name: 'acme', visibility: 'private' }, 'o5');
    expect(await run(h, 'SetRepositoryVisibility', { name: 'acme', visibility: 'public' }, 'c5')).toMatchObject({
      version: 9,
      events: ['RepositoryVisibilityChanged'],
    });
    expect((await store.readStream('repository-acme')).map((e) => e.commandId)).toEqual(['c1', 'o1', 'c2', 'o2', 'o3', 'o4', 'c4', 'o5', 'c5']);
  });

  it('a retried commandId answers with its first result, whether deciding again would refuse, append or change nothing', async () => {
    const h = handlerWith(store);
    const created = await run(h, 'CreateRepository', { name: 'acme' }, 'c1');
    const tagged = await run(h, 'TagImage', { name: 'acme', tag: 'a', digest: digest(1) }, 'c2');
    await run(h, 'TagImage', { name: 'acme', tag: 'a', digest: digest(2) }, 'c3'); // the stream moves on
    const head = await store.head();
    for (const handler of [h, handlerWith(store)]) {
      // Deciding again would refuse (REPOSITORY_EXISTS), tag again (a moved to 2), or find nothing to do.
      expect(await run(handler, 'CreateRepository', { name: 'acme' }, 'c1')).toEqual({ ...created, duplicate: true });
      expect(await run(handler, 'TagImage', { name: 'acme', tag: 'a', digest: digest(1) }, 'c2')).toEqual({ ...tagged, duplicate: true });
      expect(await run(handler, 'TagImage', { name: 'acme', tag: 'a', digest: digest(2) }, 'c3')).toMatchObject({ version: 3, duplicate: true });
      // Even input that no longer validates (or prepares) answers with the first result.
      expect(await run(handler, 'CreateRepository', { name: 'acme', bogus: true }, 'c1')).toEqual({ ...created, duplicate: true });
    }
    expect(await store.head()).toBe(head);
  });

  it('keeps frozen states folded over copies of the events, at most maxStreams of them, least recently used dropped first', () => {
    const states = new AggregateStates(2);
    const event = (version: number, type: string, data: object) => ({ ...meta(`e${version}`), eventId: `e${version}`, commandId: `e${version}`, streamId: 'x', version, position: version, type, schemaVersion: 1, data });
    const created = event(1, 'RepositoryCreated', { name: 'a', visibility: 'private' });
    const tagged = event(2, 'ImageTagged', { name: 'a', tag: 'x', digest: digest(1), previousDigest: null });
    const a = states.record('repository-a', repositoryDecider, undefined, [created, tagged]);
    expect(a).toEqual({ version: 2, state: { status: 'active', name: 'a', visibility: 'private', tags: { x: digest(1) } } });
    const kept = a.state as { tags: Record<string, string> };
    expect(Object.isFrozen(kept) && Object.isFrozen(kept.tags)).toBe(true);
    expect(() => {
      kept.tags.y = digest(2);
    }).toThrow(TypeError);
    // The events themselves are left as they were (they go on to the EventBus).
    expect(Object.isFrozen(tagged.data)).toBe(false);
    // Folding on from a kept state: what it shares with it stays frozen, the new parts are frozen too.
    const b = states.record('repository-a', repositoryDecider, a, [event(3, 'RepositoryVisibilityChanged', { name: 'a', visibility: 'public', previousVisibility: 'private' })]);
    expect(b.version).toBe(3);
    expect(Object.isFrozen(b.state) && (b.state as { tags: object }).tags === kept.tags).toBe(true);
    expect(() => states.record('repository-a', repositoryDecider, b, [event(5, 'ImageUntagged', { name: 'a', tag: 'x', previousDigest: digest(1) })])).toThrow(/does not follow 3/);
    expect(states.get('repository-a', repositoryDecider)).toBeUndefined(); // a gap keeps nothing

    states.record('repository-a', repositoryDecider, undefined, [created]);
    expect(states.get('repository-a', imageDecider)).toBeUndefined(); // another decider's view of a stream is not this one's
    states.record('repository-b', repositoryDecider, undefined, [created]);
    states.get('repository-a', repositoryDecider); // a used most recently: b goes first
    states.record('repository-c', repositoryDecider, undefined, [created]);
    expect(states.size).toBe(2);
    expect(states.get('repository-b', repositoryDecider)).toBeUndefined();
    // An older state never replaces a newer one (a slow read finishing after a later append).
    states.record('repository-c', repositoryDecider, undefined, [created, tagged]);
    states.record('repository-c', repositoryDecider, undefined, [created]);
    expect(states.get('repository-c', repositoryDecider)?.version).toBe(2);
    states.clear();
    expect(states.size).toBe(0);
  });
});

import 'reflect-metadata';
import { domainUpcasters, imageStreamId, type ProposedEvent } from '@strata/domain';
import { ConcurrencyError, SqliteEventStore, type AppendOptions, type EventStore, type ExpectedVersion } from '@strata/eventstore';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Metrics } from '../metrics/metrics.js';
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

  it('gives up after MAX_ATTEMPTS lost races with a ConcurrencyError (HTTP 409) and appends nothing of its own', async () => {
    const raced = racedStore(store, MAX_ATTEMPTS);
    await expect(
      handlerWith(raced).execute(new ExecuteCommand('TagImage', { name: 'raced', tag: 'mine', digest: digest(99) }, meta('mine'))),
    ).rejects.toBeInstanceOf(ConcurrencyError);
    expect(raced.attempts).toBe(MAX_ATTEMPTS);
    expect(await store.readCommand('mine')).toEqual([]);
  });
});

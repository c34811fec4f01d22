import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DomainError,
  domainUpcasters,
  initialRepositoryState,
  repositoryDecider,
  repositoryStreamId,
  type EventEnvelope,
  type ProposedEvent,
  type RepositoryCommand,
  type RepositoryEvent,
  type RepositoryState,
} from '@strata/domain';
import { SqliteEventStore, type EventStore } from '@strata/eventstore';

/** A temp directory per test, removed by cleanup(). */
export async function tempDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-projections-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A real SQLite event store; synchronous=OFF only because tests do not survive power cuts anyway. */
export function openStore(path: string): SqliteEventStore {
  return new SqliteEventStore({ path, synchronous: 'OFF', upcasters: domainUpcasters(), pollIntervalMs: 50 });
}

export const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

export const T0 = Date.parse('2025-01-01T00:00:00.000Z');
export const timeOf = (step: number) => new Date(T0 + step * 1000).toISOString();

/** Seeded PRNG (mulberry32): the same seed, the same history. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CommandContext {
  actor?: string;
  correlationId?: string;
  occurredAt?: string;
  commandId?: string;
}

/**
 * Runs repository commands the way the app does: load state, decide with the domain's decider,
 * append with the expected version. Keeps states in memory (the log is the same either way).
 */
let drivers = 0;

export class RepositoryDriver {
  private readonly states = new Map<string, { state: RepositoryState; version: number }>();
  private step = 0;
  /** Command and event ids must be unique across drivers: the store dedups by commandId. */
  private readonly prefix = `d${++drivers}`;

  constructor(readonly store: EventStore) {}

  state(name: string) {
    return this.states.get(name) ?? { state: initialRepositoryState(), version: 0 };
  }

  /** Decides and appends; returns the appended envelopes (empty if the decider emitted nothing). */
  async run(command: RepositoryCommand, ctx: CommandContext = {}): Promise<EventEnvelope[]> {
    const step = ++this.step;
    const current = this.state(command.name);
    const decided = repositoryDecider.decide(command, current.state);
    if (decided.length === 0) return [];
    const commandId = ctx.commandId ?? `${this.prefix}-cmd-${step}`;
    const proposed: ProposedEvent[] = decided.map((event, i) => ({
      eventId: `${this.prefix}-evt-${step}-${i}`,
      type: event.type,
      schemaVersion: event.schemaVersion,
      occurredAt: ctx.occurredAt ?? timeOf(step),
      actor: ctx.actor ?? 'alice',
      correlationId: ctx.correlationId ?? commandId,
      causationId: null,
      nodeId: 'node-a',
      data: event.data,
    }));
    const result = await this.store.append(repositoryStreamId(command.name), current.version, proposed, { commandId });
    let state = current.state;
    for (const event of decided) state = repositoryDecider.evolve(state, event as RepositoryEvent);
    this.states.set(command.name, { state, version: result.version });
    return result.events;
  }

  /** Like run(), but a command the domain refuses is skipped (random histories try invalid ones too). */
  async tryRun(command: RepositoryCommand, ctx: CommandContext = {}): Promise<EventEnvelope[]> {
    try {
      return await this.run(command, ctx);
    } catch (error) {
      if (error instanceof DomainError) return [];
      throw error;
    }
  }
}

const ACTORS = ['alice', 'bob', 'ci-bot'];
const TAGS = ['latest', 'stable', 'v1', 'v2', 'dev', 'rc'];

/**
 * Appends `commands` random repository commands (valid ones, mostly: the decider refuses the rest)
 * to the store, over a few dozen repositories, and returns how many events they produced.
 */
export async function randomHistory(store: EventStore, commands: number, seed = 1): Promise<number> {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  const names = Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? `team${i}/app` : `app-${i}`));
  const driver = new RepositoryDriver(store);
  let events = 0;
  for (let i = 0; i < commands; i++) {
    const name = pick(names);
    const r = random();
    const tags = Object.keys(driver.state(name).state.tags);
    const command: RepositoryCommand =
      r < 0.1
        ? { type: 'CreateRepository', name, visibility: random() < 0.5 ? 'public' : 'private' }
        : r < 0.6
          ? { type: 'TagImage', name, tag: pick(TAGS), digest: digest(1 + Math.floor(random() * 12)) }
          : r < 0.78
            ? { type: 'UntagImage', name, tag: tags.length > 0 ? pick(tags) : pick(TAGS) }
            : r < 0.94
              ? { type: 'SetRepositoryVisibility', name, visibility: random() < 0.5 ? 'public' : 'private' }
              : { type: 'DeleteRepository', name, force: random() < 0.7 };
    const appended = await driver.tryRun(command, {
      actor: pick(ACTORS),
      correlationId: `corr-${Math.floor(i / 7)}`,
    });
    events += appended.length;
  }
  return events;
}

/**
 * Copies the log up to `until` into another store, command by command, so the copy holds the same
 * events at the same positions: "a node that only ever saw the events up to there".
 */
export async function copyLog(from: EventStore, to: EventStore, until: number): Promise<void> {
  const events = await from.readAll({ after: 0, until, limit: 1_000_000 });
  for (let i = 0; i < events.length; ) {
    const first = events[i];
    let j = i + 1;
    while (j < events.length && events[j].commandId === first.commandId && events[j].streamId === first.streamId) j++;
    const batch = events.slice(i, j).map(({ streamId: _s, version: _v, position: _p, commandId: _c, ...rest }) => rest);
    await to.append(first.streamId, first.version - 1, batch, { commandId: first.commandId });
    i = j;
  }
}

import type { Decider, DomainEvent, EventEnvelope } from '@strata/domain';

/** How many streams' states are kept (least recently used dropped first). */
export const AGGREGATE_STATE_CACHE_STREAMS = 10_000;

/** A stream's folded state as of `version` (the version of its last event; 0: no events). */
export interface FoldedState {
  version: number;
  state: unknown;
}

/** The catalog's deciders differ in state and command types. */
type AnyDecider = Decider<any, any, DomainEvent>;

interface Entry extends FoldedState {
  decider: AnyDecider;
}

/**
 * The command path's cache of folded aggregate states, so a command need not read and fold its whole
 * stream again (docs/DECISIONS.md, "The command path caches folded states"). An entry is a hint, never
 * the authority: a decision taken from it is only ever appended with the entry's version as the expected
 * version, so if anyone (another node on the same log, another process on the same file) appended to the
 * stream since, the append is refused and the command is decided again on a fresh read.
 *
 * States are immutable: every state this class hands out or keeps is deeply frozen, and is folded over
 * private copies of the events' data (evolve may keep parts of an event in the state, and the events
 * themselves go on to the EventBus), so nothing outside (a decider, an event handler) can change
 * another command's view of a stream.
 */
export class AggregateStates {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxStreams: number = AGGREGATE_STATE_CACHE_STREAMS) {}

  /** The stream's cached state, if the same decider folded it (a stream has one category, and so one decider). */
  get(streamId: string, decider: AnyDecider): FoldedState | undefined {
    const entry = this.entries.get(streamId);
    if (!entry || entry.decider !== decider) return undefined;
    // Most recently used last: Map keeps insertion order.
    this.entries.delete(streamId);
    this.entries.set(streamId, entry);
    return { version: entry.version, state: entry.state };
  }

  /**
   * Folds `events` (the stream's events right after `from`, in order, as the store returns them) into
   * `from` (undefined: the initial state, version 0), keeps the result unless an entry for a later
   * version is already kept, and returns it (frozen): what the caller decides on.
   */
  record(streamId: string, decider: AnyDecider, from: FoldedState | undefined, events: readonly EventEnvelope[]): FoldedState {
    let version = from?.version ?? 0;
    let state: unknown = from ? from.state : decider.initialState();
    for (const event of events) {
      if (event.version !== version + 1) {
        // Not the continuation of `from`: nothing is kept (the next command reads the stream again).
        this.entries.delete(streamId);
        throw new Error(`stream ${streamId}: event version ${event.version} does not follow ${version}`);
      }
      state = decider.evolve(state, { type: event.type, schemaVersion: event.schemaVersion, data: plainCopy(event.data) });
      version = event.version;
    }
    const folded = { version, state: freeze(state) };
    if (this.maxStreams > 0) {
      const current = this.entries.get(streamId);
      if (!current || current.decider !== decider || current.version <= version) {
        this.entries.delete(streamId);
        this.entries.set(streamId, { decider, ...folded });
        if (this.entries.size > this.maxStreams) this.entries.delete(this.entries.keys().next().value!);
      }
    }
    return folded;
  }

  delete(streamId: string): void {
    this.entries.delete(streamId);
  }

  /** Drops every entry (replay, or anything else that may have changed the log under this process). */
  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Freezes a state in place, deeply. A frozen part is not walked again: what evolve kept of an earlier
 * state was frozen here, deeply, and everything else in a state is made by evolve or initialState, or
 * copied by plainCopy.
 */
function freeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) freeze(child);
  return Object.freeze(value);
}

/**
 * A copy of an event's data: JSON values (what the store returns) copied by hand, which costs far less
 * than structuredClone; anything else (a Date, a Map…) is structuredClone'd.
 */
function plainCopy<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(plainCopy) as T;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const out: Record<string, unknown> = proto === null ? Object.create(null) : {};
  for (const key of Object.keys(value)) out[key] = plainCopy((value as Record<string, unknown>)[key]);
  return out as T;
}

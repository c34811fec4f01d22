import {
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  JetStreamError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type PubAck,
  type StoredMsg,
} from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  ConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
  connect,
  headers as natsHeaders,
  nanos,
  type NatsConnection,
} from '@nats-io/transport-node';
import { UpcasterChain, type EventEnvelope, type ProposedEvent } from '@strata/domain';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkAppend } from '../append-input.js';
import {
  ConcurrencyError,
  InvalidAppendError,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoreHealth,
  type Subscription,
  StoreUnavailableError,
} from '../port.js';
import { versionMatches } from '../sqlite/sqlite-event-store.js';
import { encodeToken, streamTokens } from './subjects.js';

/**
 * Positions: an append is one message; its i-th event has position `sequence * POSITION_STRIDE + i`
 * (docs/DECISIONS.md, "Every event has its own position"). So an append holds at most this many events.
 */
export const POSITION_STRIDE = 1024;
export const MAX_EVENTS_PER_APPEND = POSITION_STRIDE;

export interface JetStreamEventStoreOptions {
  /** nats://host:port (several, comma-separated, for a cluster). */
  url: string;
  /** The event stream (default STRATA); the command index is `<stream>_COMMANDS`. */
  stream?: string;
  /** First subject token (default `strata`): events on `<root>.events.>`, the index on `<root>.command-index.>`. */
  subjectRoot?: string;
  /** Replicas of both streams when this store creates them (default 1). */
  replicas?: number;
  upcasters?: UpcasterChain;
  /** JetStream's dedup window for Nats-Msg-Id, when this store creates the stream (default 2 min). */
  duplicateWindowMs?: number;
  /** How far a node's clock may run ahead of the server's, for positionAt's cut-off (default 5 min). */
  clockSkewMs?: number;
  /** Pause between reconnect attempts after an outage (default 500 ms); the store retries forever. */
  reconnectWaitMs?: number;
}

/** What one message (one append) carries, as JSON. */
interface AppendBody {
  streamId: string;
  commandId: string;
  firstVersion: number;
  events: ProposedEvent[];
}

interface StreamTip {
  /** Sequence of the stream's last message (0: none). */
  seq: number;
  /** The stream's version (0: no stream). */
  version: number;
}

export const HEADER = {
  streamId: 'Strata-Stream-Id',
  commandId: 'Strata-Command-Id',
  count: 'Strata-Event-Count',
  firstVersion: 'Strata-First-Version',
  lastVersion: 'Strata-Last-Version',
  types: 'Strata-Event-Types',
  eventIds: 'Strata-Event-Ids',
} as const;

const WRONG_LAST_SEQUENCE = 10071;
const ANY_RETRIES = 50;
const READ_WINDOW = 64;
/** readAll pages wanting more messages than this read them through an ordered consumer, not direct gets. */
const CONSUMER_READ_MIN = 32;
/** Stream tips remembered from this process's own appends (oldest forgotten first). */
const TIP_CACHE_SIZE = 10_000;
/** Fresh commands remembered for in-process retries (a body each: ~10 MB at 1 KiB). */
const FRESH_REMEMBERED = 10_000;

/** Sets `key` as the newest entry of `map`, forgetting the oldest past `max`. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
}

/**
 * The event log on NATS JetStream. One message per append on `<root>.events.<category>.<id>`, its
 * events in a JSON body and their types, ids and versions in headers (consumers filter without parsing).
 * Optimistic concurrency: Nats-Expected-Last-Subject-Sequence = the sequence of the stream's last
 * message, read by a direct get. Idempotency: Nats-Msg-Id = commandId inside the server's dedup window,
 * and beyond it a second stream mapping commandId → sequence (one subject per command, created with
 * expected-last-subject-sequence 0), consulted before every append and by readCommand.
 */
export class JetStreamEventStore implements EventStore {
  private readonly upcasters: UpcasterChain;
  private readonly stream: string;
  private readonly indexStream: string;
  private readonly eventsRoot: string;
  private readonly indexRoot: string;
  private readonly clockSkewMs: number;
  private readonly js: JetStreamClient;
  private closing: Promise<void> | undefined;
  /** Per stream id: the tail of its appends in this process (they run one after another). */
  private readonly streamTails = new Map<string, Promise<void>>();
  /** Resolves once every earlier append has sent its message (or given up): messages go out in call order. */
  private sendTail: Promise<void> = Promise.resolve();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly subscriptions = new Set<Subscription>();
  /** Follows the connection's status: while NATS is unreachable, appends are refused at once. */
  private connected = true;
  private lastProblem = '';
  private readonly reconnectListeners = new Set<() => void>();
  /**
   * Per stream subject: its tip as this process's last append to it left it. Only a hint — the publish
   * still carries Nats-Expected-Last-Subject-Sequence, and a refusal (another writer moved the stream)
   * drops the entry and reads the tip from the leader (docs/DECISIONS.md, "JetStream appends").
   */
  private readonly tips = new Map<string, StreamTip>();
  /** Appends between their call and their end (a publish is batched only when others are under way). */
  private appending = 0;
  /** Publishes waiting for the next turn of the event loop, sent together (see send()). */
  private outbox: Array<() => void> = [];
  /** Command index entries sent but not yet acknowledged: commandId → the message (its seq and body). */
  private readonly pendingIndex = new Map<string, { seq: number; body: string }>();
  /**
   * Fresh commands this process appended (ids it minted: nobody else can ask for them), not written to
   * the index: it answers their lookups from here (the oldest forgotten first), and the next repairIndex
   * (any store's open or reconnect) indexes them like any message past the checkpoint.
   */
  private readonly freshCommands = new Map<string, { seq: number; body: string }>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    options: JetStreamEventStoreOptions,
  ) {
    this.upcasters = options.upcasters ?? new UpcasterChain();
    this.stream = options.stream ?? 'STRATA';
    this.indexStream = `${this.stream}_COMMANDS`;
    const root = options.subjectRoot ?? 'strata';
    this.eventsRoot = `${root}.events`;
    this.indexRoot = `${root}.command-index`;
    this.clockSkewMs = options.clockSkewMs ?? 5 * 60_000;
    this.js = jetstream(nc);
    void this.watchConnection();
  }

  private async watchConnection(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') {
        this.connected = false;
        this.lastProblem = `disconnected from ${status.server}`;
      } else if (status.type === 'reconnect') {
        this.lastProblem = `reconnected to ${status.server}, indexing commands`;
        void this.afterReconnect();
      }
    }
  }

  /**
   * Writes stay refused until the command index is repaired: an append whose acknowledgement the
   * outage cut may be in the stream but not in the index, and its retry must find it there (or it
   * would be decided again against a state that already holds it). Retried until JetStream answers.
   */
  private async afterReconnect(): Promise<void> {
    for (let attempt = 0; !this.closing; attempt++) {
      try {
        await this.repairIndex();
        break;
      } catch (error) {
        this.lastProblem = `reconnected, but JetStream is not ready (${(error as Error).message})`;
        await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
      }
    }
    this.connected = true;
    this.lastProblem = '';
    for (const listener of this.reconnectListeners) listener();
  }

  health(): StoreHealth {
    const server = this.nc.getServer();
    if (this.closing) return { backend: 'jetstream', connected: false, detail: 'closed' };
    return this.connected
      ? { backend: 'jetstream', connected: true, detail: `${server} stream ${this.stream}` }
      : { backend: 'jetstream', connected: false, detail: `${this.lastProblem}; reconnecting` };
  }

  /** Connects, creates both streams if missing, and indexes commands a crashed writer left unindexed. */
  static async open(options: JetStreamEventStoreOptions): Promise<JetStreamEventStore> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: options.url.split(','),
        name: 'strata-eventstore',
        // Once connected, never give up: the node keeps serving reads and resumes writes by itself.
        maxReconnectAttempts: -1,
        reconnectTimeWait: options.reconnectWaitMs ?? 500,
        // Without it every request builds two Error objects up front (for their async stack traces):
        // ~17% of the client's CPU in an append profile (bench/NOTES.md). Errors keep their classes.
        noAsyncTraces: true,
      });
    } catch (error) {
      throw new StoreUnavailableError(
        `cannot reach NATS at ${options.url} (${(error as Error).message}): start nats-server with JetStream (nats-server -js), or unset STRATA_NATS_URL to use the embedded SQLite log`,
        { cause: error },
      );
    }
    try {
      const jsm = await jetstreamManager(nc);
      const store = new JetStreamEventStore(nc, jsm, options);
      // A cluster still electing the leaders of streams another node just made answers with timeouts:
      // those are retried (bounded); anything else fails the open.
      await retryTimeouts(async () => {
        await store.ensureStreams(options.replicas ?? 1, options.duplicateWindowMs ?? 120_000);
        await store.repairIndex();
      });
      return store;
    } catch (error) {
      await nc.close();
      if ((error as Error)?.name === 'JetStreamNotEnabled' || (error instanceof JetStreamApiError && error.code === 10039) || /jetstream.*not enabled/i.test(String((error as Error)?.message))) {
        throw new StoreUnavailableError(`NATS at ${options.url} has JetStream disabled: start nats-server with -js`, { cause: error });
      }
      throw asUnavailable(error);
    }
  }

  private async ensureStreams(replicas: number, duplicateWindowMs: number): Promise<void> {
    const common = {
      storage: StorageType.File,
      num_replicas: replicas,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      allow_direct: true,
    };
    await this.ensureStream({ ...common, name: this.stream, subjects: [`${this.eventsRoot}.>`], duplicate_window: nanos(duplicateWindowMs) });
    await this.ensureStream({ ...common, name: this.indexStream, subjects: [`${this.indexRoot}.>`], max_msgs_per_subject: 1 });
    await this.waitForLeaders(replicas);
  }

  /**
   * Several nodes starting at once on a cluster: one creates the replicated streams, and until their
   * leaders are elected every read of the others times out. Wait (bounded) until both have a leader.
   */
  private async waitForLeaders(replicas: number, timeoutMs = 30_000): Promise<void> {
    if (replicas <= 1) return;
    const deadline = Date.now() + timeoutMs;
    for (const name of [this.stream, this.indexStream]) {
      for (;;) {
        const info = await this.jsm.streams.info(name).catch(() => null);
        if (info?.cluster?.leader) break;
        if (Date.now() > deadline) throw new StoreUnavailableError(`stream ${name} has no leader after ${timeoutMs / 1000} s: are the nats-servers clustered, with enough of them up for ${replicas} replicas?`);
        await sleep(200);
      }
    }
  }

  private async ensureStream(config: Parameters<JetStreamManager['streams']['add']>[0]): Promise<void> {
    try {
      await this.jsm.streams.info(config.name);
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || error.code !== 10059) throw error;
      try {
        await this.jsm.streams.add(config);
      } catch (addError) {
        // Another node created it between our look and our add: theirs is the same stream.
        if (!(addError instanceof JetStreamApiError) || addError.code !== 10058) throw addError;
      }
    }
  }

  append(streamId: string, expected: ExpectedVersion, events: ProposedEvent[], options: AppendOptions): Promise<AppendResult> {
    if (this.closing) return Promise.reject(new Error('event store is closed'));
    if (!this.connected) {
      return Promise.reject(new StoreUnavailableError(`the event log is unreachable (${this.lastProblem}): writes resume when NATS is back; retry later`));
    }
    let checked: ProposedEvent[];
    try {
      checked = checkAppend(streamId, expected, events, options);
      if (checked.length > MAX_EVENTS_PER_APPEND) {
        throw new InvalidAppendError(`an append holds at most ${MAX_EVENTS_PER_APPEND} events, not ${checked.length}`);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    // Take a turn to send now, in call order, so positions follow the order appends were made.
    const previousSend = this.sendTail;
    let releaseTurn!: () => void;
    this.sendTail = new Promise((resolve) => (releaseTurn = resolve));
    const turn = { wait: previousSend, release: releaseTurn };

    const before = this.streamTails.get(streamId) ?? Promise.resolve();
    this.appending++;
    const op = before
      .then(() => this.appendNow(streamId, expected, checked, options.commandId, options.fresh === true, turn))
      .catch((error: unknown) => {
        throw asUnavailable(error);
      })
      .finally(() => {
        this.appending--;
        turn.release();
      });
    const tail = op.then(
      () => undefined,
      () => undefined,
    );
    this.streamTails.set(streamId, tail);
    this.inflight.add(tail);
    void tail.then(() => {
      this.inflight.delete(tail);
      if (this.streamTails.get(streamId) === tail) this.streamTails.delete(streamId);
    });
    return op;
  }

  private async appendNow(
    streamId: string,
    expected: ExpectedVersion,
    events: ProposedEvent[],
    commandId: string,
    fresh: boolean,
    turn: { wait: Promise<void>; release(): void },
  ): Promise<AppendResult> {
    const subject = this.subjectOf(streamId);
    // Idempotency first (a retry answers with the first result even if the stream has moved on); the
    // tip is read at the same time (or taken from this process's last append to the stream). A fresh
    // command id (minted by the caller, never appended) cannot be known: with a remembered tip, the
    // publish is then the append's only round trip.
    const cached = this.tips.get(subject);
    const [known, read] = await Promise.all([fresh ? undefined : this.commandResult(commandId), cached ? undefined : this.tipOf(subject)]);
    if (known) return known;
    let tip = (cached ?? read)!;
    let fromCache = cached !== undefined;
    for (let attempt = 0; ; attempt++) {
      if (!versionMatches(expected, tip.version)) {
        if (fromCache) {
          // Another process may have appended since: only the leader's tip can refuse.
          this.tips.delete(subject);
          tip = await this.tipOf(subject);
          fromCache = false;
          continue;
        }
        const again = await this.commandResult(commandId);
        if (again) return again;
        throw new ConcurrencyError(streamId, expected, tip.version);
      }
      const body: AppendBody = { streamId, commandId, firstVersion: tip.version + 1, events };
      const json = JSON.stringify(body);
      const h = natsHeaders();
      h.set(HEADER.streamId, encodeURIComponent(streamId));
      h.set(HEADER.commandId, encodeURIComponent(commandId));
      h.set(HEADER.count, String(events.length));
      h.set(HEADER.firstVersion, String(tip.version + 1));
      h.set(HEADER.lastVersion, String(tip.version + events.length));
      h.set(HEADER.types, events.map((e) => encodeURIComponent(e.type)).join(','));
      h.set(HEADER.eventIds, events.map((e) => encodeURIComponent(e.eventId)).join(','));
      await turn.wait;
      // js.publish writes the message synchronously (before its first await): releasing the turn right
      // after keeps messages on this connection, and so sequences, in the order appends were made.
      const acked = this.send(() =>
        this.js.publish(subject, json, {
          headers: h,
          msgID: commandId,
          expect: { lastSubjectSequence: tip.seq },
        }),
      );
      turn.release();
      let ack: PubAck;
      try {
        ack = await acked;
      } catch (error) {
        // Whatever happened (refused, or no answer: it may be stored), the remembered tip is no longer known good.
        this.tips.delete(subject);
        if (!isWrongLastSequence(error)) throw error;
        if (fromCache || (expected === 'any' && attempt < ANY_RETRIES)) {
          tip = await this.tipOf(subject);
          fromCache = false;
          continue;
        }
        const again = await this.commandResult(commandId);
        if (again) return again;
        throw new ConcurrencyError(streamId, expected, (await this.tipOf(subject)).version);
      }
      if (ack.duplicate) {
        // Inside the dedup window, the command was already appended (by another process, or by a
        // crashed one that never indexed it): answer with what it appended.
        this.tips.delete(subject);
        await this.indexCommand(commandId, ack.seq);
        const first = await this.messageAt(ack.seq);
        if (!first) throw new Error(`message ${ack.seq} of command ${commandId} is gone`);
        return this.resultOf(this.envelopesOf(first), true);
      }
      this.rememberTip(subject, { seq: ack.seq, version: tip.version + events.length });
      // A fresh id's index entry would be a second message per append for the server (half the append
      // rate): it is remembered here instead (docs/DECISIONS.md, "JetStream appends").
      if (fresh) this.rememberFresh(commandId, { seq: ack.seq, body: json });
      else this.indexInBackground(commandId, ack.seq, json);
      return this.resultOf(this.envelopes(JSON.parse(json) as AppendBody, ack.seq), false);
    }
  }

  /**
   * Sends a publish now when this is the only append under way; otherwise on the next turn of the event
   * loop, together with every publish that became ready in this one. The NATS client flushes its
   * outbound buffer on a microtask, and appends whose turns come one after another each reach it after
   * the previous flush: one socket write per message, ~20% of the CPU of 64 concurrent writers. Sent
   * together, they share one write. Order is kept: nothing is sent at once while the outbox holds any.
   */
  private send(publish: () => Promise<PubAck>): Promise<PubAck> {
    if (this.appending <= 1 && this.outbox.length === 0) return publish();
    return new Promise<PubAck>((resolve, reject) => {
      this.outbox.push(() => publish().then(resolve, reject));
      if (this.outbox.length === 1) setImmediate(() => this.sendOutbox());
    });
  }

  private sendOutbox(): void {
    const ready = this.outbox;
    this.outbox = [];
    for (const publish of ready) publish();
  }

  private rememberTip(subject: string, tip: StreamTip): void {
    remember(this.tips, subject, tip, TIP_CACHE_SIZE);
  }

  private rememberFresh(commandId: string, entry: { seq: number; body: string }): void {
    remember(this.freshCommands, commandId, entry, FRESH_REMEMBERED);
  }

  /**
   * The command index entry of an acknowledged append, sent now and not awaited by the append
   * (docs/DECISIONS.md, "JetStream appends"): until it is acknowledged this process answers lookups of
   * the command from memory; a failed write is retried until it lands or the store closes (then, as
   * after a crash, repairIndex on the next open or reconnect indexes the message).
   */
  private indexInBackground(commandId: string, seq: number, body: string): void {
    const entry = { seq, body };
    this.pendingIndex.set(commandId, entry);
    const write = (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.indexCommand(commandId, seq);
          return;
        } catch {
          if (this.closing && attempt >= 2) return;
          await sleep(Math.min(2000, 50 * 2 ** Math.min(attempt, 6)));
        }
      }
    })().finally(() => {
      if (this.pendingIndex.get(commandId) === entry) this.pendingIndex.delete(commandId);
      this.inflight.delete(write);
    });
    this.inflight.add(write);
  }

  private resultOf(events: EventEnvelope[], duplicate: boolean): AppendResult {
    const last = events[events.length - 1];
    return { streamId: last.streamId, version: last.version, position: last.position, events, duplicate };
  }

  private async commandResult(commandId: string): Promise<AppendResult | undefined> {
    const events = await this.eventsOfCommand(commandId);
    return events.length > 0 ? this.resultOf(events, true) : undefined;
  }

  /** Records commandId → sequence once (a second record of the same command is refused by the server, and ignored). */
  private async indexCommand(commandId: string, seq: number): Promise<void> {
    try {
      await this.js.publish(this.indexSubjectOf(commandId), String(seq), { expect: { lastSubjectSequence: 0 } });
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error;
    }
  }

  /**
   * A writer killed between its publish and its index entry leaves a command the index does not know,
   * which a retry after the dedup window would append again. On open, every message since the last
   * checkpoint is indexed (idempotently), then the checkpoint moves to the end.
   */
  private async repairIndex(): Promise<void> {
    const checkpointSubject = `${this.indexRoot}.checkpoint`;
    const checkpoint = await this.jsm.direct.getMessage(this.indexStream, { last_by_subj: checkpointSubject });
    const from = checkpoint ? Number(checkpoint.string()) + 1 : 1;
    const last = await this.lastSeq();
    if (last < from) return;
    for (let seq = from; seq <= last; seq += READ_WINDOW) {
      const messages = await this.messagesAt(range(seq, Math.min(last, seq + READ_WINDOW - 1)));
      await Promise.all(
        messages.map((m) => {
          const commandId = m.header.get(HEADER.commandId);
          return commandId ? this.indexCommand(decodeURIComponent(commandId), m.seq) : undefined;
        }),
      );
    }
    await this.js.publish(checkpointSubject, String(last));
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    this.assertOpen();
    const afterVersion = options.afterVersion ?? 0;
    const until = options.untilPosition ?? Number.MAX_SAFE_INTEGER;
    const subject = this.subjectOf(streamId);
    const tip = await this.tipOf(subject);
    if (tip.version <= afterVersion) return [];
    const out: EventEnvelope[] = [];
    // Direct gets filtered by the stream's own subject: one request per append of this stream, never a scan.
    for (let seq = 1; seq <= tip.seq && seq <= seqOf(until); ) {
      const m = await this.jsm.direct.getMessage(this.stream, { seq, next_by_subj: subject });
      if (!m || m.seq > seqOf(until)) break;
      if (Number(m.header.get(HEADER.lastVersion)) > afterVersion) {
        out.push(...this.envelopesOf(m).filter((e) => e.version > afterVersion && e.position <= until));
      }
      seq = m.seq + 1;
    }
    return out;
  }

  async readAll(options: ReadAllOptions = {}): Promise<EventEnvelope[]> {
    this.assertOpen();
    const limit = options.limit ?? 1000;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be an integer >= 1, not ${limit}`);
    const after = options.after ?? 0;
    const until = options.until ?? Number.MAX_SAFE_INTEGER;
    const lastSeq = Math.min(await this.lastSeq(), seqOf(until));
    const from = Math.max(1, seqOf(after));
    const out: EventEnvelope[] = [];
    const take = (body: AppendBody, seq: number) => {
      for (const e of this.envelopes(body, seq)) if (e.position > after && e.position <= until) out.push(e);
    };
    // Each message holds at least one event: never fetch more messages than events still wanted (plus
    // the message holding `after`, which may give none).
    let next = from;
    if (Math.min(lastSeq - from + 1, limit + 1) > CONSUMER_READ_MIN) {
      try {
        // A fetch that ended early (its pull request expired) goes on from the next sequence.
        while (next <= lastSeq && out.length < limit) {
          const start = next;
          const seen = await this.scan(start, lastSeq, limit + 1 - out.length, (body, seq) => {
            take(body, seq);
            next = seq + 1; // also what the direct gets below go on from, should the consumer fail mid-page
            return out.length < limit;
          });
          if (seen.done || seen.last < start) return out.slice(0, limit);
        }
        return out.slice(0, limit);
      } catch (error) {
        // No consumer now (on a cluster, making one needs the meta leader, which may be being elected):
        // the rest of the page by direct gets, which any replica answers.
        if (asUnavailable(error) === error) throw error;
      }
    }
    for (let seq = next; seq <= lastSeq && out.length < limit; ) {
      const to = Math.min(lastSeq, seq + Math.min(READ_WINDOW, limit - out.length) - 1);
      for (const m of await this.messagesAt(range(seq, to))) take(m.json<AppendBody>(), m.seq);
      seq = to + 1;
    }
    return out.slice(0, limit);
  }

  /**
   * Messages `from`..`to` (at most `max`), in order, through one ordered consumer: one request to make
   * it and one pull, the messages streamed back (instead of a direct get each). `visit` returns false to stop.
   */
  private async scan(from: number, to: number, max: number, visit: (body: AppendBody, seq: number) => boolean): Promise<{ last: number; done: boolean }> {
    const consumer = await this.js.consumers.get(this.stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
    let last = from - 1;
    try {
      const messages = await consumer.fetch({ max_messages: Math.min(max, to - from + 1), expires: 30_000 });
      try {
        for await (const m of messages) {
          if (m.seq > to) return { last, done: true };
          last = m.seq;
          // pending: messages of the stream after this one when it was sent (0: the last one, even with gaps).
          if (!visit(m.json<AppendBody>(), m.seq) || m.seq >= to || m.info.pending === 0) return { last, done: true };
        }
        return { last, done: false };
      } finally {
        await messages.close();
      }
    } finally {
      void consumer.delete().catch(() => undefined);
    }
  }

  subscribe(after: number): Subscription {
    const state: { closed: boolean; messages?: ConsumerMessages } = { closed: false };
    const subscription: Subscription = {
      close: async () => {
        state.closed = true;
        this.subscriptions.delete(subscription);
        await state.messages?.close();
      },
      [Symbol.asyncIterator]: () => this.follow(after, state, subscription),
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /**
   * An ordered consumer from the message holding position `after`, live until the subscription closes.
   * After a reconnect (a NATS restart loses ephemeral consumers) or a consumer that ended, a new one is
   * made from the last event yielded: the reader sees every event once, in order, across outages.
   */
  private async *follow(
    after: number,
    state: { closed: boolean; messages?: ConsumerMessages },
    subscription: Subscription,
  ): AsyncGenerator<EventEnvelope> {
    let last = after;
    const onReconnect = () => void state.messages?.close();
    this.reconnectListeners.add(onReconnect);
    try {
      for (let attempt = 0; !state.closed && !this.closing; attempt++) {
        let messages: ConsumerMessages;
        try {
          // No subject filter: the stream holds only events (filter_subjects needs nats-server 2.10).
          const consumer = await this.js.consumers.get(this.stream, {
            deliver_policy: DeliverPolicy.StartSequence,
            opt_start_seq: Math.max(1, seqOf(last)),
          });
          if (state.closed) return;
          // Heartbeats every second: on a cluster the (R1, ephemeral) consumer lives on one server, and
          // when that server dies the client's own recovery asks the dead consumer for its info until the
          // server is back (with its defaults, after 30 s of silence). Two missed heartbeats instead end
          // these messages, and the loop makes a new consumer from the last event, on a live server.
          messages = await consumer.consume({ max_messages: 100, expires: 10_000, idle_heartbeat: 1_000 });
          void abandonWhenSilent(messages);
        } catch (error) {
          if (!this.connected || asUnavailable(error) !== error) {
            await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
            continue;
          }
          throw error;
        }
        state.messages = messages;
        try {
          for await (const m of messages) {
            attempt = 0;
            for (const event of this.envelopes(m.json<AppendBody>(), m.seq)) {
              if (state.closed) return;
              if (event.position > last) {
                last = event.position;
                yield event;
              }
            }
          }
        } finally {
          await messages.close();
        }
      }
    } finally {
      // Also when the reader stops iterating without close(): the consumer goes away.
      this.reconnectListeners.delete(onReconnect);
      this.subscriptions.delete(subscription);
    }
  }

  async readCommand(commandId: string): Promise<EventEnvelope[]> {
    this.assertOpen();
    return this.eventsOfCommand(commandId);
  }

  /** readCommand without the open check: appends accepted before close() still consult the index. */
  private async eventsOfCommand(commandId: string): Promise<EventEnvelope[]> {
    const pending = this.pendingIndex.get(commandId) ?? this.freshCommands.get(commandId);
    if (pending) return this.envelopes(JSON.parse(pending.body) as AppendBody, pending.seq);
    const entry = await this.jsm.direct.getMessage(this.indexStream, { last_by_subj: this.indexSubjectOf(commandId) });
    if (!entry) return [];
    const m = await this.messageAt(Number(entry.string()));
    return m ? this.envelopesOf(m) : [];
  }

  async head(): Promise<number> {
    this.assertOpen();
    const last = await this.lastSeq();
    if (last === 0) return 0;
    const m = await this.messageAt(last);
    return m ? last * POSITION_STRIDE + Number(m.header.get(HEADER.count)) - 1 : 0;
  }

  /**
   * The highest position whose occurredAt is at or before `time`. JetStream has no index on occurredAt:
   * messages stored (server time) more than clockSkewMs before `time` hold only events that occurred
   * before it (a node stamps occurredAt before it publishes), so only the messages after that cut-off
   * (found by a binary search on server time) are read, newest first.
   */
  async positionAt(time: string): Promise<number> {
    this.assertOpen();
    const at = new Date(time);
    if (Number.isNaN(at.getTime())) throw new RangeError(`not a time: ${time}`);
    const iso = at.toISOString();
    const info = await this.jsm.streams.info(this.stream);
    const first = info.state.first_seq;
    const last = info.state.last_seq;
    if (last === 0 || info.state.messages === 0) return 0;
    const cutoff = await this.firstStoredAfter(new Date(at.getTime() - this.clockSkewMs), first, last);
    for (let to = last; to >= cutoff; to -= READ_WINDOW) {
      const messages = await this.messagesAt(range(Math.max(cutoff, to - READ_WINDOW + 1), to));
      for (const m of messages.reverse()) {
        const hit = this.envelopesOf(m, false).filter((e) => e.occurredAt <= iso);
        if (hit.length > 0) return hit[hit.length - 1].position;
      }
    }
    if (cutoff <= first) return 0;
    const before = await this.jsm.direct.getMessage(this.stream, { seq: cutoff - 1 });
    return before ? before.seq * POSITION_STRIDE + Number(before.header.get(HEADER.count)) - 1 : 0;
  }

  /** The first sequence in [first, last] stored after `time` (last + 1 if none), by server time. */
  private async firstStoredAfter(time: Date, first: number, last: number): Promise<number> {
    let lo = first;
    let hi = last + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const m = await this.jsm.direct.getMessage(this.stream, { seq: mid, next_by_subj: `${this.eventsRoot}.>` });
      if (!m || m.time.getTime() > time.getTime()) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Appends accepted before close are sent and answered, not dropped (nor their index entries,
      // which an append still in flight adds to inflight when it is acknowledged).
      while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
      await Promise.allSettled([...this.subscriptions].map((s) => s.close()));
      await this.nc.close();
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('event store is closed');
    if (!this.connected) throw new StoreUnavailableError(`the event log is unreachable (${this.lastProblem}); retry when NATS is back`);
  }

  private subjectOf(streamId: string): string {
    return `${this.eventsRoot}.${streamTokens(streamId)}`;
  }

  private indexSubjectOf(commandId: string): string {
    return `${this.indexRoot}.c.${encodeToken(commandId)}`;
  }

  /**
   * The stream's last message, asked of the stream's leader (not a direct get, which any replica may
   * answer from behind the leader): the version an append is checked against must be the latest.
   */
  private async tipOf(subject: string): Promise<StreamTip> {
    const m = await this.jsm.streams.getMessage(this.stream, { last_by_subj: subject });
    return m ? { seq: m.seq, version: Number(m.header.get(HEADER.lastVersion)) } : { seq: 0, version: 0 };
  }

  private async lastSeq(): Promise<number> {
    const info = await this.jsm.streams.info(this.stream);
    return info.state.messages === 0 ? 0 : info.state.last_seq;
  }

  private messageAt(seq: number): Promise<StoredMsg | null> {
    return this.jsm.direct.getMessage(this.stream, { seq });
  }

  /** The messages at these sequences, in order, fetched in parallel; missing ones (none, normally) skipped. */
  private async messagesAt(seqs: number[]): Promise<StoredMsg[]> {
    const found = await Promise.all(seqs.map((seq) => this.messageAt(seq)));
    return found.filter((m): m is StoredMsg => m !== null);
  }

  private envelopesOf(m: StoredMsg, upcast = true): EventEnvelope[] {
    return this.envelopes(m.json<AppendBody>(), m.seq, upcast);
  }

  private envelopes(body: AppendBody, seq: number, upcast = true): EventEnvelope[] {
    return body.events.map((e, i) => {
      const envelope: EventEnvelope = {
        eventId: e.eventId,
        type: e.type,
        schemaVersion: e.schemaVersion,
        streamId: body.streamId,
        version: body.firstVersion + i,
        position: seq * POSITION_STRIDE + i,
        occurredAt: e.occurredAt,
        actor: e.actor,
        commandId: body.commandId,
        correlationId: e.correlationId,
        causationId: e.causationId,
        nodeId: e.nodeId,
        data: e.data,
      };
      return upcast ? this.upcasters.upcast(envelope) : envelope;
    });
  }
}

async function retryTimeouts<T>(work: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof TimeoutError) || Date.now() > deadline) throw error;
      await sleep(Math.min(1000, 100 * attempt));
    }
  }
}

/** Closes `messages` once two heartbeats in a row are missed (see follow()). */
async function abandonWhenSilent(messages: ConsumerMessages): Promise<void> {
  try {
    for await (const status of messages.status()) {
      if (status.type === 'heartbeats_missed' && status.count >= 2) {
        await messages.close();
        return;
      }
    }
  } catch {
    // the messages ended: nothing to watch
  }
}

function seqOf(position: number): number {
  return Math.floor(position / POSITION_STRIDE);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/**
 * NATS transport failures (timeouts, no JetStream answering during a restart, a closed or lost
 * connection) become StoreUnavailableError: the caller answers 503 and may retry with the same commandId.
 */
export function asUnavailable(error: unknown): unknown {
  const transport =
    error instanceof TimeoutError ||
    error instanceof NoRespondersError ||
    error instanceof RequestError ||
    error instanceof ConnectionError ||
    error instanceof ClosedConnectionError ||
    (error instanceof JetStreamError && !(error instanceof JetStreamApiError)) ||
    (error instanceof JetStreamApiError && error.code === 10008) || // JetStream temporarily unavailable
    // A server shutting down (or restarting) answers that JetStream is not enabled: on a store that
    // opened, JetStream was there, so this is an outage too (open() reports it as a disabled server).
    (error as Error | undefined)?.name === 'JetStreamNotEnabled';
  if (!transport) return error;
  return new StoreUnavailableError(`the event log did not answer (${(error as Error).message}): retry with the same Idempotency-Key`, { cause: error });
}

function isWrongLastSequence(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === WRONG_LAST_SEQUENCE;
}

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { UpcasterChain } from '@strata/domain';
import type { EventStore } from './port.js';
import { JetStreamEventStore } from './jetstream/jetstream-event-store.js';
import { SQLITE_SYNCHRONOUS, SqliteEventStore, type SqliteSynchronous } from './sqlite/sqlite-event-store.js';

export interface SqliteEventStoreConfig {
  kind: 'sqlite';
  /** strata.db; its folder is created if missing. */
  path: string;
  synchronous?: SqliteSynchronous;
  pollIntervalMs?: number;
}

export interface JetStreamEventStoreConfig {
  kind: 'jetstream';
  /** nats://host:port (comma-separated for several servers). */
  url: string;
  /** The JetStream stream (default STRATA); it and `<stream>_COMMANDS` are created if missing. */
  stream?: string;
  /** First subject token (default `strata`): events on `<subjectRoot>.events.>`. */
  subjectRoot?: string;
  /** Replicas of the streams this store creates (default 1). */
  replicas?: number;
}

/**
 * Where an event log lives, as plain JSON: what the app reads from its configuration and what a test
 * hands to a child process. Each adapter adds its own `kind` (the JetStream one: url, stream).
 */
export type EventStoreConfig = SqliteEventStoreConfig | JetStreamEventStoreConfig;

/** What cannot travel as JSON: code the reader applies. */
export interface OpenEventStoreOptions {
  upcasters?: UpcasterChain;
}

/** Opens the event log a config describes, whichever adapter it names. */
export async function openEventStore(config: EventStoreConfig, options: OpenEventStoreOptions = {}): Promise<EventStore> {
  const checked = parseEventStoreConfig(config);
  switch (checked.kind) {
    case 'sqlite':
      if (checked.path !== ':memory:') mkdirSync(dirname(checked.path), { recursive: true });
      return new SqliteEventStore({ ...checked, upcasters: options.upcasters });
    case 'jetstream':
      return JetStreamEventStore.open({ ...checked, upcasters: options.upcasters });
  }
}

/** Checks a config that came from outside the type system (JSON, environment) before it is used. */
export function parseEventStoreConfig(value: unknown): EventStoreConfig {
  if (typeof value !== 'object' || value === null) throw new TypeError('event store config must be an object');
  const config = value as Record<string, unknown>;
  if (config.kind === 'jetstream') return parseJetStreamConfig(config);
  if (config.kind !== 'sqlite') throw new TypeError(`unknown event store kind: ${String(config.kind)}`);
  if (typeof config.path !== 'string' || config.path.length === 0) throw new TypeError('sqlite event store config needs a path');
  if (config.synchronous !== undefined && !SQLITE_SYNCHRONOUS.includes(config.synchronous as SqliteSynchronous)) {
    throw new TypeError(`synchronous must be one of ${SQLITE_SYNCHRONOUS.join(', ')}`);
  }
  if (config.pollIntervalMs !== undefined && !(Number.isSafeInteger(config.pollIntervalMs) && (config.pollIntervalMs as number) > 0)) {
    throw new TypeError('pollIntervalMs must be a positive integer');
  }
  return {
    kind: 'sqlite',
    path: config.path,
    synchronous: config.synchronous as SqliteSynchronous | undefined,
    pollIntervalMs: config.pollIntervalMs as number | undefined,
  };
}

const STREAM_NAME = /^[A-Za-z0-9_-]+$/;
const SUBJECT_TOKEN = /^[A-Za-z0-9_-]+$/;

function parseJetStreamConfig(config: Record<string, unknown>): JetStreamEventStoreConfig {
  if (typeof config.url !== 'string' || config.url.length === 0) throw new TypeError('jetstream event store config needs a url');
  if (config.stream !== undefined && !(typeof config.stream === 'string' && STREAM_NAME.test(config.stream))) {
    throw new TypeError('stream must be a JetStream stream name (letters, digits, _ and -)');
  }
  if (config.subjectRoot !== undefined && !(typeof config.subjectRoot === 'string' && SUBJECT_TOKEN.test(config.subjectRoot))) {
    throw new TypeError('subjectRoot must be one subject token (letters, digits, _ and -)');
  }
  if (config.replicas !== undefined && !(Number.isSafeInteger(config.replicas) && (config.replicas as number) >= 1 && (config.replicas as number) <= 5)) {
    throw new TypeError('replicas must be an integer from 1 to 5');
  }
  return {
    kind: 'jetstream',
    url: config.url,
    stream: config.stream as string | undefined,
    subjectRoot: config.subjectRoot as string | undefined,
    replicas: config.replicas as number | undefined,
  };
}

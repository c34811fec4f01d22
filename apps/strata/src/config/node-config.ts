import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';

/** Everything a node is configured with. The same names as flags (`--data-dir`) and env (`STRATA_DATA_DIR`). */
export interface NodeConfig {
  dataDir: string;
  host: string;
  port: number;
  /** Fixes the admin token instead of generating one into <dataDir>/admin.token. */
  adminToken: string | null;
  natsUrl: string | null;
  /** The JetStream stream holding the log (STRATA); its command index is `<stream>_COMMANDS`. */
  natsStream: string;
  /** Replicas of the streams when this node creates them (1; 3 on a three-server cluster). */
  natsReplicas: number;
  /** The address other nodes and people reach this node at (default: where it listens). */
  advertiseUrl: string | null;
  /** Containers this node takes (the scheduler's budget). */
  capacity: number;
  /** How often the node beats and looks at the others, ms. */
  heartbeatMs: number;
  /** A node whose heartbeat is older than this is lost, ms. */
  nodeTtlMs: number;
  nodeId: string;
  synchronous: 'FULL' | 'NORMAL' | 'OFF';
  logFormat: 'json' | 'text';
  /** Largest accepted request body, bytes. */
  bodyLimit: number;
  /** Upper bound for ?minPosition= waits, ms. */
  maxWaitMs: number;
  /** Which snapshotter: overlay when possible (auto), or forced. */
  snapshotter: 'auto' | 'overlay' | 'native';
  /** Largest uncompressed layer accepted (the gzip-bomb cap), bytes. */
  maxLayerBytes: number;
  /** setuid/setgid bits in imported layers: keep them (Docker's behaviour), strip them, or refuse the layer. */
  setuid: 'allow' | 'strip' | 'reject';
  /** A /v2/ blob upload that received no bytes for this long expires (BLOB_UPLOAD_UNKNOWN, its data removed), ms. */
  uploadTtlMs: number;
  /** Blobs younger than this are never pruned (an import may be writing them), ms. */
  pruneGraceMs: number;
}

export const NODE_CONFIG = Symbol('NodeConfig');

export class ConfigError extends Error {}

/** Reads flags (after `serve`) and environment; flags win. Creates the data directory and the node id. */
export function loadNodeConfig(argv: string[] = [], env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'data-dir': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'admin-token': { type: 'string' },
      nats: { type: 'string' },
      'nats-stream': { type: 'string' },
      'nats-replicas': { type: 'string' },
      'advertise-url': { type: 'string' },
      capacity: { type: 'string' },
      'node-id': { type: 'string' },
      synchronous: { type: 'string' },
      'log-format': { type: 'string' },
      snapshotter: { type: 'string' },
    },
  });
  const dataDir = resolve(values['data-dir'] ?? env.STRATA_DATA_DIR ?? './.strata');
  const port = Number(values.port ?? env.STRATA_PORT ?? 7070);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`invalid port ${JSON.stringify(values.port ?? env.STRATA_PORT)}: use 0-65535`);
  const synchronous = (values.synchronous ?? env.STRATA_SQLITE_SYNCHRONOUS ?? 'FULL').toUpperCase();
  if (synchronous !== 'FULL' && synchronous !== 'NORMAL' && synchronous !== 'OFF') {
    throw new ConfigError(`invalid synchronous setting ${synchronous}: use FULL, NORMAL or OFF`);
  }
  const logFormat = values['log-format'] ?? env.STRATA_LOG_FORMAT ?? (process.stdout.isTTY ? 'text' : 'json');
  if (logFormat !== 'json' && logFormat !== 'text') throw new ConfigError(`invalid log format ${logFormat}: use json or text`);
  const adminToken = values['admin-token'] ?? env.STRATA_ADMIN_TOKEN ?? null;
  if (adminToken !== null && adminToken.length < 16) throw new ConfigError('STRATA_ADMIN_TOKEN must be at least 16 characters');
  const snapshotter = values.snapshotter ?? env.STRATA_SNAPSHOTTER ?? 'auto';
  if (snapshotter !== 'auto' && snapshotter !== 'overlay' && snapshotter !== 'native') {
    throw new ConfigError(`invalid snapshotter ${snapshotter}: use auto, overlay or native`);
  }
  const setuid = env.STRATA_SETUID ?? 'allow';
  if (setuid !== 'allow' && setuid !== 'strip' && setuid !== 'reject') throw new ConfigError(`invalid STRATA_SETUID ${setuid}: use allow, strip or reject`);
  const maxLayerBytes = Number(env.STRATA_MAX_LAYER_BYTES ?? 16 * 1024 ** 3);
  if (!Number.isSafeInteger(maxLayerBytes) || maxLayerBytes <= 0) throw new ConfigError('STRATA_MAX_LAYER_BYTES must be a positive byte count');
  const uploadTtlMs = Number(env.STRATA_UPLOAD_TTL_MS ?? 60 * 60 * 1000);
  if (!Number.isSafeInteger(uploadTtlMs) || uploadTtlMs < 100) throw new ConfigError('STRATA_UPLOAD_TTL_MS must be a duration of at least 100 ms');
  const natsStream = values['nats-stream'] ?? env.STRATA_NATS_STREAM ?? 'STRATA';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(natsStream)) throw new ConfigError(`invalid NATS stream name ${natsStream}: letters, digits, _ and -`);
  const natsReplicas = Number(values['nats-replicas'] ?? env.STRATA_NATS_REPLICAS ?? 1);
  if (!Number.isInteger(natsReplicas) || natsReplicas < 1 || natsReplicas > 5) throw new ConfigError('STRATA_NATS_REPLICAS must be 1 to 5');
  const natsUrl = values.nats ?? env.STRATA_NATS_URL ?? null;
  if (natsUrl !== null && !/^(nats|tls):\/\/[^\s]+$/.test(natsUrl.split(',')[0]!)) {
    throw new ConfigError(`invalid NATS url ${natsUrl}: use nats://host:port (comma-separated for a cluster)`);
  }
  const capacity = Number(values.capacity ?? env.STRATA_CAPACITY ?? 100);
  if (!Number.isSafeInteger(capacity) || capacity < 0) throw new ConfigError('STRATA_CAPACITY must be a whole number of containers');
  const heartbeatMs = Number(env.STRATA_HEARTBEAT_MS ?? 1000);
  const nodeTtlMs = Number(env.STRATA_NODE_TTL_MS ?? 5000);
  if (!(heartbeatMs >= 100 && nodeTtlMs >= 2 * heartbeatMs)) throw new ConfigError('STRATA_NODE_TTL_MS must be at least twice STRATA_HEARTBEAT_MS (>= 100 ms)');
  mkdirSync(dataDir, { recursive: true });
  return {
    dataDir,
    host: values.host ?? env.STRATA_HOST ?? '127.0.0.1',
    port,
    adminToken,
    natsUrl,
    natsStream,
    natsReplicas,
    advertiseUrl: values['advertise-url'] ?? env.STRATA_ADVERTISE_URL ?? null,
    capacity,
    heartbeatMs,
    nodeTtlMs,
    nodeId: values['node-id'] ?? env.STRATA_NODE_ID ?? persistentNodeId(dataDir),
    synchronous,
    logFormat,
    bodyLimit: Number(env.STRATA_BODY_LIMIT ?? 1024 * 1024),
    maxWaitMs: Number(env.STRATA_MAX_WAIT_MS ?? 10_000),
    snapshotter,
    maxLayerBytes,
    setuid,
    uploadTtlMs,
    pruneGraceMs: Number(env.STRATA_PRUNE_GRACE_MS ?? 60 * 60 * 1000),
  };
}

/** A node keeps its id across restarts: events it appended stay attributable to it. */
function persistentNodeId(dataDir: string): string {
  const file = join(dataDir, 'node-id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const id = `node-${randomUUID().slice(0, 8)}`;
  writeFileSync(file, `${id}\n`);
  return id;
}

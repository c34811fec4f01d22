/**
 * The HTTP API's request and response shapes: the contract between the node and its clients (the CLI
 * imports nothing else of Strata). Types only, no code.
 *
 * Conventions:
 * - Every request but GET /healthz needs `Authorization: Bearer <token>`.
 * - Repository names contain '/': in paths they are URL-encoded (`library%2Fnginx`).
 * - Commands answer with a CommandReply; queries accept `?minPosition=` (wait, bounded, until the
 *   read models reach that position: read-your-writes) and `?at=<position|ISO time>` (time travel).
 * - Errors are RFC 7807 `application/problem+json` bodies (Problem), with a stable `code`.
 */

export type Visibility = 'public' | 'private';

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  instance?: string;
  /** Extra facts about the error (the field that failed, the state that refused…). */
  [extension: string]: unknown;
}

/** Reply to every command (HTTP 200/201, and NATS later). */
export interface CommandReply<R = unknown> {
  commandId: string;
  streamId: string;
  /** Stream version after the command. */
  version: number;
  /** Position of the command's last event; pass it as ?minPosition= to read your write. 0 if no event. */
  position: number;
  /** Types of the events the command appended (empty: it changed nothing). */
  events: string[];
  /** True when this commandId had been executed already: the first result, nothing appended. */
  duplicate: boolean;
  result?: R;
}

// ---- requests -------------------------------------------------------------------------------------

/** POST /repositories */
export interface CreateRepositoryRequest {
  name: string;
  visibility?: Visibility; // default private
}
/** PUT /repositories/{name}/visibility */
export interface SetVisibilityRequest {
  visibility: Visibility;
}
/** PUT /repositories/{name}/tags/{tag}: exactly one of digest or source (`repo:tag` of an existing tag). */
export interface TagImageRequest {
  digest?: string;
  source?: string;
}
/** DELETE /repositories/{name}?force=true removes the tags too. DELETE /repositories/{name}/tags/{tag} untags. */

/** Optional headers on commands: `Idempotency-Key` (the commandId), `X-Correlation-Id`. */

// ---- views ----------------------------------------------------------------------------------------

export interface RepositoryView {
  name: string;
  visibility: Visibility;
  tagCount: number;
  createdAt: string;
  updatedAt: string;
  /** Position of the last event that changed this repository. */
  position: number;
}

export interface TagView {
  repository: string;
  tag: string;
  digest: string;
  updatedAt: string;
  updatedBy: string;
  position: number;
}

/** One move of a tag: set (from null), moved, or removed (to null). */
export interface TagMoveView {
  repository: string;
  tag: string;
  from: string | null;
  to: string | null;
  at: string;
  by: string;
  position: number;
  eventType: string;
}

export interface EventView {
  eventId: string;
  type: string;
  schemaVersion: number;
  streamId: string;
  version: number;
  position: number;
  occurredAt: string;
  actor: string;
  commandId: string;
  correlationId: string;
  causationId: string | null;
  nodeId: string;
  data: unknown;
}

/** GET /repositories, GET /repositories/{name}/tags, GET /repositories/{name}/history[?tag=] */
export interface ListReply<T> {
  items: T[];
  /** The read models' position the answer reflects (or the ?at= position for time travel). */
  position: number;
}

/**
 * GET /events?stream=&category=&type=&actor=&correlationId=&since=&until=&after=&limit=&format=json|ndjson|csv
 * `since`/`until`: a position (digits) or an ISO time; `after`: paging cursor (position);
 * `category`: aggregate type (repository, image, container…); `type` may repeat or be comma-separated.
 */
export interface EventsReply {
  items: EventView[];
  /** Pass as ?after= for the next page; null when this page is the last. */
  next: number | null;
  position: number;
}

/** GET /events/stream: Server-Sent Events; `id:` is the position; resumable with Last-Event-ID or ?after=.
 *  A position older than what is retained gets one `event: resync` with a ResyncNotice, then the stream ends. */
export interface ResyncNotice {
  code: 'RESYNC_REQUIRED';
  message: string;
  oldestRetained: number;
}

export interface ProjectionStatus {
  name: string;
  position: number;
  lag: number;
}
/** GET /admin/projections */
export interface ProjectionsReply {
  head: number;
  projections: ProjectionStatus[];
}

/** POST /admin/replay streams application/x-ndjson: ReplayProgress lines, then one ReplayResult line. */
export interface ReplayProgress {
  kind: 'progress';
  position: number;
  head: number;
  events: number;
}
export interface ReplayResult {
  kind: 'result';
  checksumBefore: string;
  checksumAfter: string;
  events: number;
  seconds: number;
}

/** GET /admin/checksum[?at=] */
export interface ChecksumReply {
  checksum: string;
  position: number;
}

/** GET /status */
export interface StatusReply {
  nodeId: string;
  version: string;
  backend: 'sqlite' | 'jetstream';
  dataDir: string;
  head: number;
  projections: ProjectionStatus[];
  uptimeSeconds: number;
  principal: string;
}

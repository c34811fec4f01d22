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
/**
 * PUT /repositories/{name}/tags/{tag}: exactly one of `digest` (a manifest digest), `image` (any image
 * reference: repo:tag, repo@digest, a digest, an id or id prefix) or `source` (`repo:tag` of an existing tag).
 */
export interface TagImageRequest {
  digest?: string;
  image?: string;
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
  /** The same without positions (they are the backend's): equal for one log on SQLite and on JetStream. */
  portableChecksum: string;
  position: number;
}

/** GET /healthz: liveness, and whether the event log can take writes. */
export interface HealthReply {
  status: 'ok' | 'degraded';
  nodeId: string;
  eventLog: { backend: 'sqlite' | 'jetstream'; connected: boolean; detail: string };
  /** The log's head; null while the log is unreachable. */
  head: number | null;
}

/** GET /nodes: a cluster member, from the log (joins, drains, losses) and its heartbeat. */
export interface NodeView {
  nodeId: string;
  address: string;
  status: 'ready' | 'draining' | 'left' | 'lost';
  runtime: string;
  snapshotter: string;
  capacity: number;
  version: string;
  joinedAt: string | null;
  /** The last heartbeat still in the bucket (null: none within the TTL). */
  lastHeartbeat: string | null;
  alive: boolean;
  /** Containers placed there and not removed, and of those the running ones. */
  containers: number;
  running: number;
}

/** GET /status */
export interface StatusReply {
  nodeId: string;
  version: string;
  backend: 'sqlite' | 'jetstream';
  /** The snapshotter this node uses, and why (overlay needs root and kernel overlayfs). */
  snapshotter: { name: 'overlay' | 'native'; reason: string };
  dataDir: string;
  head: number;
  projections: ProjectionStatus[];
  uptimeSeconds: number;
  principal: string;
}

// ---- images ---------------------------------------------------------------------------------------
//
// An image is named by `repo[:tag]`, `repo@sha256:…`, its manifest digest, its id (config digest) or a
// unique prefix of the id of at least 4 hex digits, like Docker. In paths the reference is URL-encoded.

export type ImageOrigin = 'import' | 'load' | 'commit' | 'pull' | 'push' | 'build';

export interface ImageLayerView {
  digest: string;
  diffId: string;
  chainId: string;
  size: number;
  mediaType: string;
}

/** One row of `history` (like `docker history`), oldest first. */
export interface ImageHistoryView {
  created: string | null;
  createdBy: string | null;
  author: string | null;
  comment: string | null;
  emptyLayer: boolean;
  /** The layer this entry made (null for config-only entries), and its size. */
  layerDigest: string | null;
  size: number;
}

export interface ImageRunConfigView {
  cmd: string[] | null;
  entrypoint: string[] | null;
  env: string[];
  workingDir: string | null;
  user: string | null;
  labels: Record<string, string>;
  exposedPorts: string[];
  volumes: string[];
  stopSignal: string | null;
}

export interface ImageView {
  manifestDigest: string;
  /** Docker's image id: the config digest. */
  imageId: string;
  manifestMediaType: string;
  /** "repo:tag" of every tag pointing at it now. */
  tags: string[];
  size: number;
  created: string | null;
  author: string | null;
  architecture: string;
  os: string;
  origin: ImageOrigin;
  parent: string | null;
  source: string | null;
  layers: ImageLayerView[];
  history: ImageHistoryView[];
  config: ImageRunConfigView;
  /** When the node recorded the image, and who. */
  recordedAt: string;
  recordedBy: string;
  position: number;
}

/** GET /images: `totalSize` counts each layer once, however many images share it. */
export interface ImagesReply extends ListReply<ImageView> {
  totalSize: number;
  uniqueLayers: number;
}

/** GET /images/{ref}/history */
export type ImageHistoryReply = ListReply<ImageHistoryView>;

/** POST /images/import?tag=repo:tag&source=&message= with the layer tar (plain or gzip) as the body. */
export interface ImportImageReply {
  image: ImageView;
  /** The CreateImage command's reply (and the TagImage one when a tag was given). */
  commands: CommandReply[];
  position: number;
}

/** POST /images/load[?tag=repo:tag] with an OCI image layout or `docker save` tarball as the body. */
export interface LoadImageReply {
  images: Array<{ image: ImageView; refName: string | null; created: boolean }>;
  commands: CommandReply[];
  position: number;
}

/** GET /images/save?ref=a&ref=b streams an OCI image layout as application/x-tar. */

/** DELETE /images/{ref}[?force=true] */
export interface RemoveImageReply {
  manifestDigest: string;
  imageId: string;
  untagged: string[];
  commands: CommandReply[];
  position: number;
}

/** GET /images/{ref}/files?path=/&recursive=true: the union view of the layers, without unpacking. */
export interface FileEntryView {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname: string | null;
  mtime: string | null;
}
export type ImageFilesReply = ListReply<FileEntryView>;
/** GET /images/{ref}/content?path=/etc/motd streams the file's bytes (application/octet-stream). */

/** POST /system/prune[?dryRun=true]: blobs no image, container or upload in flight needs. */
export interface PruneReply {
  dryRun: boolean;
  removedBlobs: number;
  freedBytes: number;
  removedSnapshots: number;
}

// ---- containers -----------------------------------------------------------------------------------
//
// A container is named by its id, a unique id prefix, or its name (like Docker).

export type ContainerStatus = 'created' | 'running' | 'paused' | 'exited' | 'removed';
export type ExitReason = 'completed' | 'stopped' | 'killed' | 'oom' | 'node-restart' | 'node-lost' | 'error';

export interface ContainerRunConfigView {
  entrypoint: string[] | null;
  cmd: string[] | null;
  env: string[];
  workingDir: string;
  user: string;
  labels: Record<string, string>;
  hostname: string;
  stopSignal: string;
  stopTimeoutSeconds: number;
}

export interface ContainerView {
  id: string;
  name: string;
  image: { manifestDigest: string; imageId: string; reference: string };
  status: ContainerStatus;
  exitCode: number | null;
  exitReason: ExitReason | null;
  restartCount: number;
  restartPolicy: string;
  nodeId: string;
  snapshotter: 'overlay' | 'native';
  config: ContainerRunConfigView;
  createdAt: string;
  createdBy: string;
  startedAt: string | null;
  finishedAt: string | null;
  position: number;
}

/** POST /containers: like `docker create`. */
export interface CreateContainerRequest {
  image: string;
  name?: string;
  cmd?: string[];
  entrypoint?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  labels?: Record<string, string>;
  hostname?: string;
  /** no | on-failure[:N] | always | unless-stopped */
  restart?: string;
  stopSignal?: string;
  stopTimeout?: number;
  /** In a cluster: the node to place it on (default: the scheduler picks a ready node with room). */
  node?: string;
}

/** Answer of every container command: the container as it is after it, and the command's reply. */
export interface ContainerReply {
  container: ContainerView;
  commands: CommandReply[];
  position: number;
}

/** GET /containers/{ref}/changes: `docker diff`, relative to the image. */
export interface DiffEntryView {
  kind: 'A' | 'C' | 'D';
  path: string;
}

/** One recorded change of the writable layer (GET /containers/{ref}/files/history?path=). */
export interface FileChangeView {
  position: number;
  at: string;
  actor: string;
  source: 'api' | 'process';
  path: string;
  kind: 'A' | 'C' | 'D';
  type: string | null;
  size: number | null;
  digest: string | null;
  mode: number | null;
}

/** POST /containers/{ref}/wait */
export interface WaitReply {
  exitCode: number;
  reason: ExitReason | null;
}

/** GET /containers/{ref}/logs?since=&tail=&follow= (application/x-ndjson) */
export interface LogLineView {
  time: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

/** POST /containers/{ref}/exec */
export interface ExecRequest {
  cmd: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
}
export interface ExecReply {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** GET /containers/{ref}/top */
export interface TopReply {
  titles: string[];
  processes: string[][];
}

/** POST /containers/{ref}/commit: like `docker commit`. */
export interface CommitRequest {
  /** "repo:tag" to tag the new image with. */
  tag?: string;
  author?: string;
  message?: string;
  /** Dockerfile instructions that change the config: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL. */
  changes?: string[];
  /** Pause a running container while its layer is read (default true). */
  pause?: boolean;
}
export interface CommitReply {
  image: ImageView;
  commands: CommandReply[];
  position: number;
}

/** A principal as GET /tokens lists it: its grants and who changed them when (from the log; never its token). */
export interface PrincipalView {
  name: string;
  /** `pull|push|admin:<repository pattern>`; the built-in admin holds `admin:*`. */
  grants: string[];
  status: 'active' | 'revoked';
  /** The node's own administrator (its token is <data-dir>/admin.token): not made by `token create`. */
  builtIn: boolean;
  createdAt: string | null;
  createdBy: string | null;
  updatedAt: string | null;
  updatedBy: string | null;
}

/** POST /tokens {name, grants}: the new principal and its API token, shown this once and never again. */
export interface TokenCreatedReply {
  principal: PrincipalView;
  token: string;
  position: number;
}

// ---- builds ----------------------------------------------------------------------------------------

/**
 * POST /builds?tag=repo:tag&dockerfile=Dockerfile&buildArg=K=V&noCache=true, the context as a tar body:
 * the answer is NDJSON, one BuildProgress per line, ending with `completed` or `failed`.
 */
export type BuildProgress =
  | { type: 'started'; buildId: string; total: number; contextDigest: string; fileDigest: string; warnings: string[] }
  | { type: 'step'; buildId: string; n: number; total: number; instruction: string }
  | { type: 'output'; buildId: string; n: number; stream: 'stdout' | 'stderr'; line: string }
  | { type: 'step-completed'; buildId: string; n: number; total: number; manifestDigest: string; imageId: string; cached: boolean }
  | { type: 'completed'; buildId: string; manifestDigest: string; imageId: string; tag: string | null; position: number }
  | { type: 'failed'; buildId: string; step: number; code: string; message: string; exitCode: number | null; output: string | null; position: number };

/** GET /builds/{buildId}: the build as its stream tells it. */
export interface BuildView {
  buildId: string;
  status: 'running' | 'completed' | 'failed';
  actor: string;
  startedAt: string;
  finishedAt: string | null;
  contextDigest: string;
  fileDigest: string;
  dockerfile: string;
  args: Record<string, string>;
  tag: string | null;
  instructions: string[];
  steps: Array<{ n: number; instruction: string; manifestDigest: string; imageId: string; cached: boolean }>;
  result: { manifestDigest: string; imageId: string } | null;
  failure: { step: number; code: string; message: string; exitCode: number | null; output: string | null } | null;
}

/** GET /builds/{buildId}/history: the build's stream, event by event. */
export interface BuildHistoryReply {
  buildId: string;
  items: EventView[];
}

// ---- registry client: pull from and push to other registries --------------------------------------

/**
 * A remote registry's credentials, sent with a pull, push or login request in the header
 * `X-Registry-Auth` (as Docker does) as base64 of this JSON. The node uses them for that request
 * only: they never enter the event log, the read models or a log line.
 */
export interface RegistryAuth {
  username: string;
  password: string;
  /** The registry they are for (`host[:port]`); the node refuses them for any other. */
  serveraddress: string;
}

/** POST /images/pull (JSON body); the answer is an NDJSON stream of TransferProgress lines. */
export interface PullImageRequest {
  /** `registry/name:tag` or `registry/name@sha256:…`. */
  remote: string;
  /** The local `repo:tag` to tag the image with; default: the remote's name and tag (none for a digest). */
  tag?: string;
  /** From an index: `os/arch[/variant]`; default: the node's own platform. */
  platform?: string;
  /** Plain HTTP to a registry that is not on loopback. */
  insecure?: boolean;
}

/** POST /images/push (JSON body); the answer is an NDJSON stream of TransferProgress lines. */
export interface PushImageRequest {
  /** Any local image reference: `repo:tag`, a digest, an id prefix. */
  image: string;
  /** `registry/name:tag`. */
  remote: string;
  insecure?: boolean;
  /** Bytes per PATCH of a chunked upload (64 KiB to 64 MiB; default 16 MiB). */
  chunkSize?: number;
}

export interface PullImageReply {
  remote: string;
  manifestDigest: string;
  indexDigest: string | null;
  platform: string | null;
  /** The local tag set, if any. */
  tag: string | null;
  image: ImageView;
  blobs: { downloaded: number; existing: number; bytes: number; resumes: number };
  commands: CommandReply[];
  position: number;
}

export interface PushImageReply {
  remote: string;
  manifestDigest: string;
  blobs: { uploaded: number; existing: number; mounted: number; bytes: number };
}

/** POST /registries/login (X-Registry-Auth): the node checks the credentials against the registry. */
export interface RegistryLoginRequest {
  registry: string;
  insecure?: boolean;
}

export interface RegistryLoginReply {
  registry: string;
  ok: true;
}

/**
 * One line of a pull's or push's NDJSON stream: the plan once the manifest is known, then each
 * blob's progress, then the result. A failure after the stream began is a problem object on its own
 * line (it has `code` and `status`).
 */
export type TransferProgress =
  | { kind: 'plan'; manifestDigest: string; indexDigest: string | null; platform: string | null; blobs: Array<{ digest: string; size: number; mediaType: string }> }
  | { kind: 'blob'; digest: string; size: number; bytes: number; status: 'exists' | 'mounted' | 'downloading' | 'uploading' | 'resumed' | 'done' }
  | { kind: 'verifying'; manifestDigest: string }
  | { kind: 'result'; pull?: PullImageReply; push?: PushImageReply };

/** POST /mirrors: follow `repository` of the node at `source` into `localRepository` (default: the same name). */
export interface AddMirrorRequest {
  source: string;
  repository: string;
  localRepository?: string;
  /** For the source's /v2/ (Basic `<principal>:<API token>`, token flow) and its event stream (Bearer <password>). Kept in a 0600 file, never in events. */
  credentials?: { username: string; password: string };
}

/** A mirror and what its follower is doing now (the state is this node's, not in the log). */
export interface MirrorView {
  id: string;
  source: string;
  repository: string;
  localRepository: string;
  hasCredentials: boolean;
  createdAt: string;
  createdBy: string;
  /**
   * The node that runs the mirror's worker: this node on SQLite; on a shared (JetStream) log the holder
   * of the mirror's lease (null while nobody holds it, e.g. between a holder's death and the takeover).
   */
  runner: string | null;
  /**
   * `following` the source's event stream; `polling` its tags/list (no access to its events); `retrying`
   * after an error; `standby`: another node runs it (see `runner`); `stopped`.
   */
  state: 'starting' | 'syncing' | 'following' | 'polling' | 'retrying' | 'standby' | 'stopped';
  /** The last source position this node handled (null before its first sync finished; reset when it takes the mirror over). */
  position: number | null;
  lastSyncAt: string | null;
  lastError: string | null;
  /** Tags pulled and untagged by this node's worker since it started. */
  pulled: number;
  untagged: number;
}

export interface MirrorAddedReply {
  mirror: MirrorView;
  position: number;
}

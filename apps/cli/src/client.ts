/**
 * The CLI's only way to the node: HTTP, with the API types from @strata/api. Turns problem+json answers
 * into ProblemError, transport failures into UnreachableError, decodes the streaming answers (replay's
 * and the logs' NDJSON, the live events' SSE), and streams bytes both ways (upload, download).
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type {
  CommandReply,
  EventView,
  ListReply,
  Problem,
  ReplayProgress,
  ReplayResult,
  ResyncNotice,
} from '@strata/api';
import { ProblemError, ProtocolError, ResyncError, UnreachableError } from './errors.js';
import { iterate, parseSse, readLines, readNdjson } from './streams.js';
import { counted, openFileUpload, openStreamUpload, type UploadStream } from './upload-source.js';

export type QueryValue = string | number | boolean | readonly string[] | null | undefined;
export type Query = Record<string, QueryValue>;

export interface ClientOptions {
  /** The node's base URL, e.g. http://127.0.0.1:7070. */
  url: string;
  token: string | null;
  /** Whole-request limit for ordinary requests; streams are limited only until their headers arrive. */
  timeoutMs?: number;
  /** Pause before the one retry of a request that failed in transit. */
  retryDelayMs?: number;
  userAgent?: string;
  /** Abandons every request (Ctrl-C). */
  signal?: AbortSignal;
}

export interface FollowOptions {
  /** Filters and other query parameters for GET /events/stream. */
  query?: Query;
  /** Start after this position; null: only events from now on. */
  after: number | null;
  signal?: AbortSignal;
  /** Reconnections in a row without receiving an event before giving up. */
  maxRetries?: number;
  /** Told about each reconnection, so the user sees why the output paused. */
  onReconnect?: (attempt: number, lastPosition: number | null, cause: unknown) => void;
}

/** Per-request tuning. */
export interface RequestOptions {
  /**
   * Overrides the client's limit for this request: a `wait` or a foreground `run` lasts as long as the
   * container does (Infinity: no limit; Ctrl-C still ends it), a `stop -t 120` at least that long.
   */
  timeoutMs?: number;
  /** Added to the client's limit: a `stop -t 30` first waits up to 30 s for the process to end. */
  extraMs?: number;
}

/** How `upload` sends its body. */
export interface UploadOptions {
  /** POST (an archive becoming an image) or PUT (a file put into a container). Default POST. */
  method?: 'POST' | 'PUT';
  /** Overrides the sniffed archive type: a container's file is plain bytes, whatever its first two bytes. */
  contentType?: string;
}

interface SendOptions extends RequestOptions {
  query?: Query;
  body?: unknown;
  accept: string;
  headers?: Record<string, string>;
  /** Non-GET requests carry an Idempotency-Key (the command id), the same on the retry. */
  idempotencyKey?: string;
  /** Return as soon as the headers are in; the caller reads the body. */
  stream?: boolean;
  signal?: AbortSignal;
}

const JSON_ACCEPT = 'application/json, application/problem+json';
const BYTES_ACCEPT = 'application/x-tar, application/octet-stream, application/problem+json';

/** Told after each piece of an upload is handed to the connection; total is null when unknown. */
export type UploadProgress = (bytesSent: number, total: number | null) => void;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class StrataClient {
  readonly url: string;
  private readonly token: string | null;
  private readonly timeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly userAgent: string;
  private readonly signal: AbortSignal | undefined;

  constructor(options: ClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.retryDelayMs = options.retryDelayMs ?? 250;
    this.userAgent = options.userAgent ?? 'strata-cli';
    this.signal = options.signal;
  }

  /** A query (GET): the parsed JSON answer. */
  async get<T>(path: string, query?: Query): Promise<T> {
    const { res, text } = await this.send('GET', path, { query, accept: JSON_ACCEPT });
    return parseJson(res, text) as T;
  }

  /**
   * A list query (ListReply, EventsReply): the shape is checked, so a node that breaks the contract is
   * reported as such rather than as a crash deep in the table code.
   */
  async getList<T, R extends { items: T[] } = ListReply<T>>(path: string, query?: Query): Promise<R> {
    const reply = await this.get<R>(path, query);
    if (!reply || typeof reply !== 'object' || !Array.isArray(reply.items)) {
      throw new ProtocolError(`GET ${path} answered without an items array: the node does not follow the API contract`);
    }
    return reply;
  }

  /** A command (POST/PUT/DELETE), sent with an Idempotency-Key so a retry is not executed twice. */
  async command<R = unknown>(
    method: 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    query?: Query,
  ): Promise<CommandReply<R>> {
    return this.invoke<CommandReply<R>>(method, path, body, query);
  }

  /** A command whose answer is not a bare CommandReply (RemoveImageReply, PruneReply, ContainerReply). */
  async invoke<T>(
    method: 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    query?: Query,
    options: RequestOptions = {},
  ): Promise<T> {
    const { res, text } = await this.send(method, path, { ...options, query, body, accept: JSON_ACCEPT, idempotencyKey: randomUUID() });
    return parseJson(res, text) as T;
  }

  /**
   * POST an archive as the request body, streamed: a file path (read piece by piece from disk) or a
   * stream. The content type is application/gzip when the first bytes are gzip's magic number, else
   * application/x-tar, unless `options.contentType` says otherwise (a container's file, PUT as plain
   * application/octet-stream). Never retried: a body half sent cannot be sent again (the Idempotency-Key still
   * protects against a proxy's replay). The timeout counts from the last piece sent, not from the start:
   * a large archive on a slow line is not a dead node.
   */
  async upload<T>(
    path: string,
    query: Query,
    source: string | UploadStream,
    onProgress?: UploadProgress,
    options: UploadOptions = {},
  ): Promise<T> {
    const upload = typeof source === 'string' ? await openFileUpload(source) : await openStreamUpload(source);
    const contentType = options.contentType ?? upload.contentType;
    const stalled = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => stalled.abort(), this.timeoutMs);
    };
    let sent = 0;
    // Errors of our own side (a file that cannot be read, a layout that changed while being sent)
    // surface from fetch as "fetch failed": remember them to report them as they are.
    let sourceError: unknown;
    async function* guarded(): AsyncGenerator<Uint8Array> {
      try {
        yield* counted(upload.chunks, (bytes) => {
          sent += bytes;
          arm();
          onProgress?.(sent, upload.size);
        });
      } catch (error) {
        sourceError = error;
        throw error;
      }
    }
    const body = Readable.from(guarded(), { objectMode: false });
    const callers = [this.signal].filter((s): s is AbortSignal => s !== undefined);
    const headers = this.headers(JSON_ACCEPT, { 'Content-Type': contentType, 'Idempotency-Key': randomUUID() });
    arm();
    try {
      const res = await fetch(this.href(path, query), {
        method: options.method ?? 'POST',
        headers,
        body,
        duplex: 'half',
        signal: AbortSignal.any([...callers, stalled.signal]),
      });
      const text = await res.text();
      if (!res.ok) throw new ProblemError(toProblem(res, text));
      return parseJson(res, text) as T;
    } catch (error) {
      if (sourceError !== undefined) throw sourceError;
      if (error instanceof ProblemError || callers.some((s) => s.aborted)) throw error;
      if (stalled.signal.aborted) {
        throw new UnreachableError(this.url, `no progress within ${this.timeoutMs / 1000} s after ${sent} bytes sent`, { cause: error });
      }
      throw new UnreachableError(this.url, networkReason(error), { cause: error });
    } finally {
      clearTimeout(timer);
      body.destroy(); // closes the file if the request ended before reading it all
    }
  }

  /**
   * GET a byte stream (`save`'s tar, `image cat`'s file), returned once the headers are in. A problem
   * answer is a ProblemError before any byte is returned; a connection cut mid-stream makes the stream
   * fail with a ProtocolError, so a caller never mistakes a truncated download for a whole one.
   */
  async download(path: string, query?: Query): Promise<Readable> {
    const { res } = await this.send('GET', path, { query, accept: BYTES_ACCEPT, stream: true });
    const source = bodyOf(res);
    const signal = this.signal;
    async function* guarded(): AsyncGenerator<Uint8Array> {
      try {
        yield* iterate(source);
      } catch (error) {
        if (signal?.aborted) throw error;
        throw new ProtocolError(`the download of ${path} was cut off (${networkReason(error)})`, { cause: error });
      }
    }
    return Readable.from(guarded(), { objectMode: false });
  }

  /**
   * GET an NDJSON stream (a container's logs), one parsed value per line, as the lines arrive. A problem
   * object arriving as a line (a failure after the 200 was sent) is thrown as a ProblemError; a
   * connection cut mid-stream as a ProtocolError, so a truncated answer is never taken for a whole one.
   */
  async *lines<T>(path: string, query?: Query, options: RequestOptions = {}): AsyncGenerator<T> {
    const { res } = await this.send('GET', path, {
      ...options,
      query,
      accept: 'application/x-ndjson, application/problem+json',
      stream: true,
    });
    try {
      for await (const value of readNdjson(readLines(bodyOf(res)))) {
        const problem = value as Partial<Problem>;
        if (typeof problem.code === 'string' && typeof problem.status === 'number' && typeof problem.detail === 'string') {
          throw new ProblemError(value as Problem);
        }
        yield value as T;
      }
    } catch (error) {
      if (error instanceof ProblemError || this.signal?.aborted) throw error;
      if (error instanceof SyntaxError) throw new ProtocolError(`GET ${path} sent a line that is not JSON: ${error.message}`);
      throw new ProtocolError(`the answer of GET ${path} was cut off (${networkReason(error)})`, { cause: error });
    }
  }

  /**
   * POST /admin/replay: reports each ReplayProgress line, returns the ReplayResult line. A stream that
   * ends without a result (the node died or failed mid-replay) is an error, never a silent success.
   */
  async replay(onProgress: (progress: ReplayProgress) => void): Promise<ReplayResult> {
    const { res } = await this.send('POST', '/admin/replay', {
      accept: 'application/x-ndjson, application/problem+json',
      idempotencyKey: randomUUID(),
      stream: true,
    });
    for await (const line of readNdjson(readLines(bodyOf(res)))) {
      const value = line as Partial<ReplayProgress | ReplayResult> & Partial<Problem>;
      if (value.kind === 'progress') onProgress(value as ReplayProgress);
      else if (value.kind === 'result') return value as ReplayResult;
      // A failure after the 200 was sent can only arrive in-band: a problem object as a line.
      else if (typeof value.code === 'string' && typeof value.status === 'number') throw new ProblemError(value as Problem);
    }
    throw new ProtocolError('the replay stream ended without a result: the replay may not have finished');
  }

  /**
   * GET /events/stream as an endless sequence of events. A dropped connection is resumed with
   * Last-Event-ID (and ?after=) from the last event received, up to `maxRetries` times in a row with a
   * growing pause; a `resync` event throws ResyncError. Ends quietly when `signal` aborts.
   */
  async *follow(options: FollowOptions): AsyncGenerator<EventView> {
    const maxRetries = options.maxRetries ?? 5;
    let last = options.after;
    let failures = 0;
    let connected = false;
    for (;;) {
      try {
        const headers: Record<string, string> = {};
        if (last !== null && connected) headers['Last-Event-ID'] = String(last);
        const { res } = await this.send('GET', '/events/stream', {
          query: { ...options.query, after: last ?? undefined },
          accept: 'text/event-stream, application/problem+json',
          headers,
          stream: true,
          signal: options.signal,
        });
        connected = true;
        for await (const message of parseSse(readLines(bodyOf(res)))) {
          if (message.event === 'resync') throw new ResyncError(parseResync(message.data));
          if (message.event !== 'message' || message.data === '') continue; // keep-alives, future kinds
          const event = JSON.parse(message.data) as EventView;
          // After a reconnection the node may repeat the event it was sending when the line dropped.
          if (last !== null && event.position <= last) continue;
          last = event.position;
          failures = 0;
          yield event;
        }
        // The node closed the stream without a resync: a restart or a proxy timeout. Resume.
        throw new ProtocolError('the event stream was closed by the node');
      } catch (error) {
        if (options.signal?.aborted || this.signal?.aborted) return;
        // Before the first connection there is nothing to resume: say why at once.
        if (!connected || !isTransient(error)) throw error;
        failures += 1;
        if (failures > maxRetries) {
          throw new ProtocolError(`lost the event stream after ${maxRetries} reconnection attempts`, { cause: error });
        }
        options.onReconnect?.(failures, last, error);
        await sleep(Math.min(this.retryDelayMs * 2 ** (failures - 1), 5000));
      }
    }
  }

  private headers(accept: string, extra?: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { Accept: accept, 'User-Agent': this.userAgent, ...extra };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    return headers;
  }

  private href(path: string, query?: Query): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined || value === null || value === false) continue;
      if (Array.isArray(value)) for (const v of value as readonly string[]) params.append(key, v);
      else params.append(key, String(value));
    }
    const qs = params.toString();
    return `${this.url}${path}${qs ? `?${qs}` : ''}`;
  }

  /**
   * One request, retried once if it failed in transit (no HTTP answer at all). An ordinary request is
   * read completely here (`text`), under the timeout and the retry, so a connection dropped mid-body
   * counts as failed in transit; a stream is returned once its headers are in (`text` null). A non-2xx
   * answer becomes a ProblemError.
   */
  private async send(method: string, path: string, options: SendOptions): Promise<{ res: Response; text: string | null }> {
    const url = this.href(path, options.query);
    const headers = this.headers(options.accept, options.headers);
    if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['Content-Type'] = 'application/json';
    }
    const timeoutMs = (options.timeoutMs ?? this.timeoutMs) + (options.extraMs ?? 0);
    for (let attempt = 1; ; attempt++) {
      const timeout = new AbortController();
      const timer = Number.isFinite(timeoutMs) ? setTimeout(() => timeout.abort(), timeoutMs) : undefined;
      const callers = [options.signal, this.signal].filter((s): s is AbortSignal => s !== undefined);
      const signal = AbortSignal.any([...callers, timeout.signal]);
      try {
        const res = await fetch(url, { method, headers, body, signal });
        if (!res.ok) throw new ProblemError(toProblem(res, await res.text()));
        return { res, text: options.stream ? null : await res.text() };
      } catch (error) {
        if (error instanceof ProblemError || callers.some((s) => s.aborted)) throw error;
        if (timeout.signal.aborted) throw new UnreachableError(this.url, `no answer within ${timeoutMs / 1000} s`, { cause: error });
        if (attempt >= 2) throw new UnreachableError(this.url, networkReason(error), { cause: error });
        await sleep(this.retryDelayMs);
      } finally {
        clearTimeout(timer);
      }
    }
  }
}

/** A 2xx body as JSON; 204 (or an empty body) as undefined. */
function parseJson(res: Response, text: string | null): unknown {
  if (text === null || text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ProtocolError(`the node answered ${res.status} with a body that is not JSON: ${text.slice(0, 120)}`);
  }
}

function bodyOf(res: Response): ReadableStream<Uint8Array> {
  if (!res.body) throw new ProtocolError(`the node answered ${res.status} without a body`);
  return res.body as ReadableStream<Uint8Array>;
}

/**
 * The node's problem+json as it is; anything else (a proxy's HTML page, a bare text) as a Problem
 * with code HTTP_<status>, so every failure prints the same way.
 */
export function toProblem(res: { status: number; statusText: string; headers: Headers }, text: string): Problem {
  const type = res.headers.get('content-type') ?? '';
  if (/json/i.test(type)) {
    try {
      const body = JSON.parse(text) as Partial<Problem>;
      if (body && typeof body === 'object' && (typeof body.code === 'string' || typeof body.detail === 'string')) {
        return {
          ...body,
          type: body.type ?? 'about:blank',
          title: body.title ?? res.statusText,
          status: typeof body.status === 'number' ? body.status : res.status,
          code: body.code ?? `HTTP_${res.status}`,
          detail: body.detail ?? body.title ?? res.statusText,
        };
      }
    } catch {
      // fall through: described below from the raw text
    }
  }
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return {
    type: 'about:blank',
    title: res.statusText || `HTTP ${res.status}`,
    status: res.status,
    code: `HTTP_${res.status}`,
    detail: snippet || res.statusText || `the node answered HTTP ${res.status}`,
  };
}

function parseResync(data: string): ResyncNotice {
  try {
    return JSON.parse(data) as ResyncNotice;
  } catch {
    return { code: 'RESYNC_REQUIRED', message: data, oldestRetained: Number.NaN };
  }
}

/** Worth a reconnection: no answer, a cut stream, or a node/proxy that is (re)starting. */
function isTransient(error: unknown): boolean {
  if (error instanceof ResyncError || error instanceof SyntaxError) return false; // a malformed event will not heal
  if (error instanceof ProblemError) return error.status >= 500;
  return true;
}

/** The system reason inside undici's "fetch failed" (it hides the errno in `cause`, sometimes nested). */
export function networkReason(error: unknown): string {
  const seen = new Set<unknown>();
  let current: unknown = error;
  // Failing an errno, the innermost message is the informative one ("bad port", not "fetch failed").
  let message = error instanceof Error ? error.message : String(error);
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const { code, errors, cause } = current as { code?: unknown; errors?: unknown[]; cause?: unknown };
    if (typeof code === 'string' && !code.startsWith('ERR_INVALID')) return describeCode(code);
    if (current instanceof Error && current.message) message = current.message;
    if (Array.isArray(errors) && errors.length > 0) current = errors[0];
    else current = cause;
  }
  return message;
}

const describeCode = (code: string): string =>
  ({
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'unknown host',
    EAI_AGAIN: 'host name lookup failed',
    ECONNRESET: 'connection reset',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
    UND_ERR_SOCKET: 'connection closed',
  })[code] ?? code;

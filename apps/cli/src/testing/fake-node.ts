/**
 * A real HTTP server on 127.0.0.1 (port 0) that stands in for the Strata node in the CLI's tests: each
 * test scripts the answers (problem+json, NDJSON, SSE) and inspects the requests the CLI really sent.
 * Not the node: the end-to-end tests against the real node live in test/.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { Io } from '../context.js';

export interface RecordedRequest {
  method: string;
  /** Path and query as sent (still percent-encoded). */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body as received, and in how many pieces it arrived (an upload streams in many). */
  bytes: Buffer;
  chunks: number;
}

export type Handler = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;

export interface FakeNode {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startFakeNode(handler: Handler): Promise<FakeNode> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const parsed = new URL(req.url ?? '/', 'http://fake');
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        path: parsed.pathname,
        query: parsed.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        bytes: Buffer.concat(chunks),
        chunks: chunks.length,
      };
      requests.push(recorded);
      Promise.resolve(handler(recorded, res)).catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export function sendProblem(res: ServerResponse, status: number, code: string, detail: string, extra: object = {}): void {
  res
    .writeHead(status, { 'content-type': 'application/problem+json' })
    .end(JSON.stringify({ type: `https://strata.dev/problems/${code}`, title: code, status, code, detail, ...extra }));
}

/** NDJSON lines (a container's logs), each written as its own piece so the client reads them as a stream. */
export function sendNdjson(res: ServerResponse, lines: readonly unknown[]): void {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  for (const line of lines) res.write(`${JSON.stringify(line)}\n`);
  res.end();
}

/**
 * A handler that answers by `METHOD /path` (the path as sent, still percent-encoded), for commands that
 * send several requests (`run`: create, start, logs, wait); anything else is a 404 problem naming it.
 */
export function routes(table: Record<string, Handler>): Handler {
  return (req, res) => {
    const handler = table[`${req.method} ${req.path}`];
    if (handler) return handler(req, res);
    sendProblem(res, 404, 'NO_ROUTE', `the fake node has no route for ${req.method} ${req.path}`);
  };
}

export interface CaptureOptions {
  now?: Date;
  /** Pretend stdout / stderr is a terminal (save's -o rule, the progress bar). */
  stdoutTTY?: boolean;
  stderrTTY?: boolean;
  /** What `strata load < file` reads. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** A Writable that keeps every byte written to it, synchronously (complete when `run` resolves). */
function bytesSink(tty: boolean | undefined) {
  const chunks: Buffer[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    }),
    { isTTY: tty },
  );
  return { stream, bytes: () => Buffer.concat(chunks) };
}

/** An Io that captures stdout and stderr, for running the CLI in-process. */
export function captureIo(env: NodeJS.ProcessEnv, options: CaptureOptions | Date = {}) {
  const opts = options instanceof Date ? { now: options } : options;
  const now = opts.now ?? new Date('2024-05-01T12:00:00Z');
  const stdout = bytesSink(opts.stdoutTTY);
  const stderr = bytesSink(opts.stderrTTY);
  const stdin = opts.stdin;
  const io: Io = {
    stdout: stdout.stream,
    stderr: stderr.stream,
    stdin: stdin ? () => stdin : undefined,
    env,
    now: () => now,
    clientOptions: { retryDelayMs: 5, timeoutMs: 5000 },
  };
  return {
    io,
    out: () => stdout.bytes().toString('utf8'),
    outBytes: stdout.bytes,
    err: () => stderr.bytes().toString('utf8'),
  };
}

export const digest = (c: string): string => `sha256:${c.repeat(64).slice(0, 64)}`;

/** A port nothing listens on (bound, then freed): a node that is not running. */
export async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

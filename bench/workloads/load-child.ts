/**
 * The load generator of workloads 4 (HTTP) and 6 (registry manifest GETs), run as its own process so
 * the server under test and the client do not share an event loop. Argument: a JSON LoadSpec. Prints
 * one JSON line: throughput (2xx per second), latency percentiles (ms), errors, non-2xx.
 * Each request of a `unique` spec gets its own body: `{{n}}` in the body template is replaced by a
 * counter (unique per process and run), so creates never collide.
 */
import autocannon from 'autocannon';

export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  /** The request body; `{{n}}` becomes a per-request counter. */
  body?: string;
  headers?: Record<string, string>;
  /** Fixed rate over all connections (req/s); omit for as fast as possible. */
  rate?: number;
  connections: number;
  durationS: number;
  /** A prefix for the counter, unique per run (several runs against one node). */
  prefix?: string;
}

export interface LoadResult {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  throughput: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  durationS: number;
  firstError?: string;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  let n = 0;
  let firstError: string | undefined;
  const template = spec.body;
  const instance = autocannon({
    url: spec.url,
    method: spec.method,
    headers: spec.headers,
    connections: spec.connections,
    duration: spec.durationS,
    ...(spec.rate ? { overallRate: spec.rate } : {}),
    timeout: 10,
    requests: [
      {
        method: spec.method,
        setupRequest: (request: Record<string, unknown>) =>
          template === undefined ? request : { ...request, body: template.replaceAll('{{n}}', `${spec.prefix ?? ''}${n++}`) },
        onResponse: (status: number, body: string) => {
          if ((status < 200 || status > 299) && !firstError) firstError = `${status} ${String(body).slice(0, 300)}`;
        },
      },
    ],
  } as never);
  instance.on('error', (error: Error) => (firstError ??= String(error)));
  const result = (await instance) as unknown as {
    requests: { sent: number };
    '2xx': number;
    non2xx: number;
    errors: number;
    timeouts: number;
    latency: { p50: number; p90: number; p99: number; max: number };
    duration: number;
  };
  return {
    sent: result.requests.sent,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    throughput: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    durationS: result.duration,
    firstError,
  };
}

if (process.argv[1]?.endsWith('load-child.ts') && process.argv[2]) {
  const result = await runLoad(JSON.parse(process.argv[2]) as LoadSpec);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

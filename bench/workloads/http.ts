/**
 * Workload 4: HTTP under load from a second process (issue 7). A real node (`node bin/strata.js serve`,
 * built from the repository, SQLite at synchronous=FULL) and a raw reference server (node:http +
 * better-sqlite3, `http-raw-server.ts`), each its own process on 127.0.0.1; autocannon in a third
 * process (`load-child.ts`) at a fixed rate (500 req/s over 16 connections). Each run, interleaved:
 * - raw POST (one INSERT per request, one transaction) and raw GET (50 rows as JSON): the limit;
 * - POST /commands/CreateRepository, a new repository per request (the full command path: auth, zod,
 *   idempotency lookup, load + decide, append at synchronous=FULL, the reply);
 * - POST /containers (CreateContainer: a new container from a one-file image, its copy-on-write layer
 *   prepared by the snapshotter; not started — StartContainer runs a runc process per request, which a
 *   500 req/s load test would turn into a fork benchmark);
 * - GET /events?limit=50 (the audit log, first page).
 * Throughput = 2xx answers per second over the run; latency p50/p99 as autocannon measures it (from the
 * request's send; at a fixed rate autocannon does not correct for coordinated omission).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SectionRow } from '../lib/section.ts';
import { figure } from '../lib/stats.ts';
import { withTempDir } from '../lib/tmp.ts';
import { ensureBuilt, startNode, stopLogged, type StrataNode } from './layers-node.ts';
import type { LoadResult, LoadSpec } from './load-child.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** A row of this workload: a RESULTS.md section row, tagged with the workload. */
export type HttpRow = SectionRow & { workload: 'http' };

export interface HttpInfo {
  rate: number;
  connections: number;
  durationS: number;
  build?: string;
  load?: [number, number];
  /** Per scenario: requests sent, non-2xx, errors, timeouts summed over the runs. */
  totals?: Record<string, { sent: number; ok: number; non2xx: number; errors: number; timeouts: number; firstError?: string }>;
  eventsInLog?: number;
  nodeExit?: string;
}

export interface HttpOptions {
  root: string;
  runs: number;
  durationS: number;
  rate: number;
  connections: number;
  build: 'auto' | 'always' | 'never';
  log: (s: string) => void;
}

/** Runs one autocannon load in its own process; rejects on a crash or after durationS + 60 s. */
export function load(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'load-child.ts'), JSON.stringify(spec)], {
      cwd: join(here, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), (spec.durationS + 60) * 1000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').at(-1)!) as LoadResult);
      else reject(new Error(`the load process exited ${code ?? signal}: ${err.trim().slice(-500)}`));
    });
  });
}

/** The raw reference server as a child process; resolves with its URL once it listens. */
async function startRaw(dbFile: string): Promise<{ url: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(here, 'http-raw-server.ts'), dbFile], {
    cwd: join(here, '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new Error(`the raw server did not listen within 20 s: ${err}`)), 20_000);
      child.stdout!.on('data', (d) => {
        out += d;
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        }
      });
      child.stderr!.on('data', (d) => (err += d));
      child.once('exit', (code) => reject(new Error(`the raw server exited ${code}: ${err}`)));
    });
    return { url: `http://127.0.0.1:${port}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A one-file image to create containers from (create needs a Cmd; the tar is made in process). */
export async function baseImage(node: StrataNode, dir: string): Promise<string> {
  const { spawnSync } = await import('node:child_process');
  const base = join(dir, 'base');
  mkdirSync(join(base, 'etc'), { recursive: true });
  writeFileSync(join(base, 'etc/motd'), 'strata bench base\n');
  const tar = spawnSync('tar', ['--sort=name', '-cf', '-', '-C', base, '.'], { maxBuffer: 1 << 24 });
  if (tar.status !== 0) throw new Error(`tar: ${tar.stderr}`);
  await node.request(`/images/import?${new URLSearchParams({ tag: 'bench/base:1' })}`, {
    method: 'POST',
    body: tar.stdout,
    headers: { 'content-type': 'application/x-tar' },
  });
  return 'bench/base:1';
}

export async function httpWorkload(o: HttpOptions): Promise<{ rows: HttpRow[]; info: HttpInfo }> {
  const rows: HttpRow[] = [];
  const info: HttpInfo = { rate: o.rate, connections: o.connections, durationS: o.durationS, load: [+loadavg()[0].toFixed(1), NaN], totals: {} };
  const failed = (name: string, error: unknown): HttpRow => {
    o.log(`  ${name}: FAILED ${String(error)}`);
    return { workload: 'http', name, figure: figure('req/s', [NaN]), error: String(error).slice(0, 400) };
  };
  try {
    info.build = ensureBuilt(o.root, o.log, o.build);
  } catch (error) {
    rows.push(failed('HTTP workload (build)', error));
    return { rows, info };
  }
  await withTempDir(async (dir) => {
    let node: StrataNode | undefined;
    let raw: { url: string; stop(): Promise<void> } | undefined;
    try {
      node = await startNode(o.root, join(dir, 'data'), join(dir, 'node.log'));
      raw = await startRaw(join(dir, 'raw.db'));
      const image = await baseImage(node, dir);
      const auth = { authorization: `Bearer ${node.token}`, 'content-type': 'application/json' };
      const json = { 'content-type': 'application/json' };
      const scenarios = {
        rawPost: { name: 'raw node:http + better-sqlite3, POST: one INSERT per request (FULL)', url: `${raw.url}/`, method: 'POST', body: '{"name":"bench/h{{n}}"}', headers: json, limit: true },
        createRepo: { name: 'Strata POST /commands/CreateRepository (a new repository per request)', url: `${node.url}/commands/CreateRepository`, method: 'POST', body: '{"name":"bench/h{{n}}"}', headers: auth, ref: 'rawPost' },
        createContainer: { name: `Strata POST /containers (CreateContainer from ${image}, not started)`, url: `${node.url}/containers`, method: 'POST', body: `{"image":"${image}","name":"c{{n}}","cmd":["/bin/true"]}`, headers: auth, ref: 'rawPost' },
        rawGet: { name: 'raw node:http + better-sqlite3, GET: 50 rows as JSON', url: `${raw.url}/events`, method: 'GET', headers: {}, limit: true },
        audit: { name: 'Strata GET /events?limit=50 (audit log, first page)', url: `${node.url}/events?limit=50`, method: 'GET', headers: { authorization: auth.authorization }, ref: 'rawGet' },
      } as const;
      type Key = keyof typeof scenarios;
      const keys = Object.keys(scenarios) as Key[];
      const results = Object.fromEntries(keys.map((k) => [k, [] as LoadResult[]])) as Record<Key, LoadResult[]>;
      const errors: Partial<Record<Key, unknown>> = {};
      const specOf = (k: Key, prefix: string, durationS: number): LoadSpec => {
        const s = scenarios[k] as { url: string; method: 'GET' | 'POST'; body?: string; headers: Record<string, string> };
        return { url: s.url, method: s.method, body: s.body, headers: s.headers, rate: o.rate, connections: o.connections, durationS, prefix };
      };
      o.log(`http: ${o.rate} req/s over ${o.connections} connections, ${o.durationS} s a run, ${o.runs} runs, scenarios interleaved; node pid ${node.pid} ${node.url}, raw ${raw.url}`);
      // warm-up: one unmeasured second of each (JIT, SQLite caches, the first snapshot)
      for (const k of keys) await load({ ...specOf(k, `w${k.length}x`, 1), rate: Math.min(o.rate, 200) }).catch(() => undefined);
      for (let i = 1; i <= o.runs; i++) {
        for (const k of keys) {
          if (errors[k]) continue;
          try {
            const r = await load(specOf(k, `r${i}x`, o.durationS));
            if (r.ok === 0) throw new Error(`no 2xx answer (${r.non2xx} non-2xx, ${r.errors} errors): ${r.firstError ?? ''}`);
            results[k].push(r);
          } catch (error) {
            errors[k] = error;
          }
        }
        o.log(`  run ${i}: ${keys.map((k) => { const r = results[k].at(-1); return `${k} ${r ? `${Math.round(r.throughput)}/s p50 ${r.p50} p99 ${r.p99} ms${r.non2xx || r.errors ? ` (${r.non2xx} non-2xx, ${r.errors} errors)` : ''}` : '—'}`; }).join('; ')}`);
      }
      for (const k of keys) {
        const s = scenarios[k] as { name: string; limit?: boolean; ref?: Key };
        const rs = results[k];
        info.totals![k] = rs.reduce(
          (t, r) => ({ sent: t.sent + r.sent, ok: t.ok + r.ok, non2xx: t.non2xx + r.non2xx, errors: t.errors + r.errors, timeouts: t.timeouts + r.timeouts, firstError: t.firstError ?? r.firstError }),
          { sent: 0, ok: 0, non2xx: 0, errors: 0, timeouts: 0, firstError: undefined as string | undefined },
        );
        if (errors[k] || rs.length === 0) {
          rows.push(failed(s.name, errors[k] ?? 'no run'));
          continue;
        }
        const t = info.totals![k];
        const bad = t.non2xx || t.errors ? `; ${t.non2xx} non-2xx, ${t.errors} errors of ${t.sent}${t.firstError ? `, first: ${t.firstError.slice(0, 120)}` : ''}` : '';
        const ref = s.ref ? (results[s.ref].length ? results[s.ref] : undefined) : undefined;
        const med = (xs: LoadResult[], f: (r: LoadResult) => number) => figure('', xs.map(f)).median;
        const thr: HttpRow = { workload: 'http', name: `${s.name}: throughput`, figure: figure('req/s', rs.map((r) => r.throughput)), note: `offered ${o.rate} req/s${bad}` };
        const p50: HttpRow = { workload: 'http', name: `${s.name}: p50 latency`, figure: figure('ms', rs.map((r) => r.p50)) };
        const p99: HttpRow = { workload: 'http', name: `${s.name}: p99 latency`, figure: figure('ms', rs.map((r) => r.p99)), target: s.limit ? undefined : `< 10 ms at ${o.rate} req/s` };
        if (s.limit) {
          rows.push({ ...thr, limit: true }, { ...p50, limit: true }, { ...p99, limit: true });
        } else {
          const refName = (scenarios[s.ref!] as { name: string }).name;
          rows.push(
            { ...thr, reference: `${refName}: throughput`, ratio: ref ? thr.figure.median / med(ref, (r) => r.throughput) : undefined },
            { ...p50, reference: `${refName}: p50 latency`, ratio: ref ? p50.figure.median / med(ref, (r) => r.p50) : undefined, note: 'ratio of latencies: lower is better' },
            { ...p99, reference: `${refName}: p99 latency`, ratio: ref ? p99.figure.median / med(ref, (r) => r.p99) : undefined, note: 'ratio of latencies: lower is better' },
          );
        }
      }
      try {
        const head = (await (await node.request('/status')).json()) as Record<string, unknown>;
        info.eventsInLog = Number((head as { head?: number; position?: number }).head ?? (head as { position?: number }).position ?? NaN);
      } catch {
        // /status shape changed: not needed for the figures
      }
    } catch (error) {
      rows.push(failed('HTTP workload', error));
    } finally {
      await raw?.stop().catch(() => undefined);
      info.nodeExit = await stopLogged(node, o.log);
    }
  });
  for (const r of rows) if (!r.error) o.log(`  ${r.name}: ${r.figure.median.toFixed(r.figure.unit === 'ms' ? 2 : 0)} ${r.figure.unit} (${r.figure.min.toFixed(1)}–${r.figure.max.toFixed(1)})${r.ratio ? `, ${r.ratio.toFixed(2)}×` : ''}`);
  info.load![1] = +loadavg()[0].toFixed(1);
  return { rows, info };
}

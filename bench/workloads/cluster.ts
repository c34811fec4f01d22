/**
 * Workload 7: several nodes, one log (issue 9). Two topologies, one after the other in one run, each
 * started from scratch (127.0.0.1, free ports, temp data dirs) and always stopped (nodes, then NATS):
 * - R1: one nats-server (libs/eventstore's test harness) and one Strata node on it, streams with 1 replica;
 * - R3: three nats-servers clustered with routes (`startNatsCluster`, as test/cluster.e2e.spec.ts and
 *   `npm run cluster`), and three Strata nodes (`serve --nats <3 urls> --nats-replicas 3 --node-id n<i>`),
 *   the first started alone (it creates the R3 streams; see scripts/dev-cluster.ts), the others together,
 *   then waited for until every node lists every node ready and alive (NodeJoined + heartbeat).
 * The node is the built one (`bin/strata.js serve`, as the HTTP workload starts it: working tree or
 * --node-from). A one-file image is imported into the first node only; the others fetch its blobs
 * through the cluster's object store on their first create (done in the warm-up, unmeasured).
 *
 * Per topology, each of `runs` runs, interleaved:
 * - raw throughput (limit): `js.publish` of an append-sized JSON body into a stream of the same
 *   replication (R1 / R3, file storage), `concurrency` publishers each awaiting its ack, spread over a
 *   connection to each server;
 * - command throughput: `concurrency` HTTP clients (node:http, keep-alive, in this process; closed loop)
 *   spread round-robin over the nodes, each sending the next command when the last is answered:
 *   `POST /commands/CreateRepository` (a new repository each: one event, the log path every command
 *   shares) and `POST /containers` (CreateContainer from the imported image, not started — no runc:
 *   the scheduler places it, the receiving node routes it to the owner over NATS when that is another
 *   node, the owner prepares the copy-on-write layer and appends). Throughput = 2xx answers / elapsed;
 * - raw latency (limit): one message at a time published (to each server in turn) and timed until its
 *   ack is back AND an ordered consumer on every server (one connection per server, deliver new — what
 *   a node's projection follows) has received it;
 * - end-to-end latency: one command at a time sent (to each node in turn) and timed until it is projected
 *   on EVERY node. "Projected" is observed with the read-your-writes wait every query has: once the
 *   command's reply gives its position P, `GET <the created thing>?minPosition=P` is sent to every node at
 *   once; a node answers only when its ProjectionEngine has applied P (`engine.waitFor`, woken by the
 *   projection itself — no polling interval) and the read model then holds the new row (a 404 would
 *   fail the sample). `/events/stream` was not used: it reads the log's own subscription, so it says
 *   the node *received* the event, not that its read models applied it; `/healthz`'s head is the log's
 *   head, not the projection's; polling `/status` would add its interval to every sample. The time
 *   includes one extra loopback request per node after the reply (~1 ms), so it is an upper bound by that.
 * p50/p99 are taken per run over its samples; the figure is the median (min, max) of the runs' p50s/p99s.
 */
import { jetstream, jetstreamManager, DeliverPolicy, type JetStreamClient, type ConsumerMessages } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { startNatsCluster } from '../../libs/eventstore/src/testing/nats-cluster.ts';
import { startNatsServer } from '../../libs/eventstore/src/testing/nats-server.ts';
import { proposed, repositoryStreams } from '../lib/events.ts';
import type { SectionRow } from '../lib/section.ts';
import { figure } from '../lib/stats.ts';
import { withTempDir } from '../lib/tmp.ts';
import { baseImage } from './http.ts';
import { ensureBuilt, startNode, type StrataNode } from './layers-node.ts';

/** A row of this workload: a RESULTS.md section row, tagged with the workload. */
export type ClusterRow = SectionRow & { workload: 'cluster' };

export type CommandName = 'CreateRepository' | 'CreateContainer';

export interface ClusterOptions {
  root: string;
  runs: number;
  /** Each throughput run, seconds. */
  durationS: number;
  /** Each latency run, seconds (samples one after the other, at most `maxSamples`). */
  latencyS: number;
  maxSamples: number;
  /** In-flight publishes / HTTP requests in the throughput runs. */
  concurrency: number;
  commands: CommandName[];
  build: 'auto' | 'always' | 'never';
  log: (s: string) => void;
}

export interface ClusterInfo {
  concurrency: number;
  durationS: number;
  latencyS: number;
  commands: CommandName[];
  build?: string;
  natsServer?: string;
  load?: [number, number];
  /** Per topology: how long it took to start and to stop, where CreateContainer placed its containers, errors. */
  topologies: Record<
    string,
    {
      startS?: number;
      stopS?: number;
      placed?: Record<string, number>;
      samples?: Record<string, number>;
      /** A scenario that failed as a whole (then its row is a failed row). */
      failures?: Record<string, string>;
      /** The first failed request of a throughput scenario whose other requests succeeded. */
      firstErrors?: Record<string, string>;
      /**
       * CPU time per operation (ms; median over the runs) during the throughput runs, from /proc: all the
       * Strata node processes, all the nats-servers, and this process (the load generator).
       */
      cpuPerOp?: Record<string, { nodes: number; nats: number; client: number }>;
      nodeExits?: string[];
    }
  >;
}

type TopologyKey = 'r1' | 'r3';
const TOPOLOGIES: { key: TopologyKey; size: number; label: string }[] = [
  { key: 'r1', size: 1, label: '1 node, 1 nats-server (R1)' },
  { key: 'r3', size: 3, label: '3 nodes, 3 clustered nats-servers (R3)' },
];
const STOP_NATS_MS = 20_000;
const READY_MS = 60_000;

/** What is running for one topology; stop() is bounded and safe to call whatever was started. */
interface Topology {
  size: number;
  urls: string[];
  nodes: StrataNode[];
  ids: string[];
  connections: NatsConnection[];
  stopNats?: () => Promise<void>;
  natsPids: () => number[];
}

const TICK_MS = 10; // CLK_TCK 100 on Linux
/** utime + stime of a process, ms (NaN when it is gone). */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // fields 14 and 15 of stat(5)
  } catch {
    return NaN;
  }
}
/** The pid of the nats-server listening on `port` (the single-server harness does not say its pid). */
function natsPidOnPort(port: string): number[] {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('nats-server') && args[args.indexOf('-p') + 1] === port) return [Number(entry)];
    } catch {
      // gone meanwhile
    }
  }
  return [];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function bounded<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

/** `concurrency` workers, each running `op` again as soon as it resolves, until `durationS` is up. */
async function closedLoop(concurrency: number, durationS: number, op: (worker: number, i: number) => Promise<void>) {
  const t0 = now();
  const deadline = t0 + durationS * 1000;
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; now() < deadline; i++) {
        try {
          await op(w, i);
          ok++;
        } catch (error) {
          failed++;
          firstError ??= String(error).slice(0, 300);
          if (failed > 50 && ok === 0) return; // everything fails: do not spin for the whole run
        }
      }
    }),
  );
  const ms = now() - t0;
  return { ok, failed, ms, rate: (ok * 1000) / ms, firstError };
}

/**
 * Keep-alive connections for the requests of this workload. node:http rather than fetch: with undici's
 * fetch this process spent ~2.7 ms of CPU per CreateRepository (measured, /proc), a large share of 2
 * cores shared with the servers; with node:http ~0.5–1 ms (the loop and the bodies included).
 */
const agent = new HttpAgent({ keepAlive: true, maxSockets: 64 });

/** A request with the admin token that throws on a non-2xx answer, with the node's problem; bounded (30 s). */
function call<T>(node: StrataNode, path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const body = init.body !== undefined ? JSON.stringify(init.body) : undefined;
  return new Promise<T>((resolve, reject) => {
    const request = httpRequest(
      `${node.url}${path}`,
      {
        method,
        agent,
        timeout: 30_000,
        headers: { authorization: `Bearer ${node.token}`, ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = response.statusCode ?? 0;
          if (status < 200 || status > 299) reject(new Error(`${method} ${path} on ${node.url}: ${status} ${text.slice(0, 300)}`));
          else {
            try {
              resolve(JSON.parse(text) as T);
            } catch (error) {
              reject(error as Error);
            }
          }
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${method} ${path} on ${node.url}: no answer within 30 s`)));
    request.on('error', reject);
    request.end(body);
  });
}

/** An append's body as the adapter publishes it (one RepositoryCreated event), for the raw references. */
const sample = proposed(repositoryStreams(1, 1)[0][0]);
const rawBody = (id: number) => JSON.stringify({ id, streamId: `repository-bench-${id}`, commandId: `cmd-${id}`, firstVersion: 1, events: [sample] });

export async function clusterWorkload(o: ClusterOptions): Promise<{ rows: ClusterRow[]; info: ClusterInfo }> {
  const rows: ClusterRow[] = [];
  const info: ClusterInfo = { concurrency: o.concurrency, durationS: o.durationS, latencyS: o.latencyS, commands: o.commands, load: [+loadavg()[0].toFixed(1), NaN], topologies: {} };
  const failed = (name: string, error: unknown, unit = 'commands/s'): ClusterRow => {
    o.log(`  ${name}: FAILED ${String(error)}`);
    return { workload: 'cluster', name, figure: figure(unit, [NaN]), error: String(error).split('\n').slice(0, 4).join(' ').slice(0, 400) };
  };
  try {
    info.build = ensureBuilt(o.root, o.log, o.build);
  } catch (error) {
    rows.push(failed('cluster workload (build)', error));
    return { rows, info };
  }
  o.log(`cluster: ${o.runs} runs per topology; throughput ${o.durationS} s a run at ${o.concurrency} in flight; latency ${o.latencyS} s a run, one at a time; commands ${o.commands.join(', ')}`);

  /** Per topology and figure: the runs' values. */
  const results: Record<TopologyKey, Record<string, number[]>> = { r1: {}, r3: {} };
  const push = (t: TopologyKey, key: string, v: number) => (results[t][key] ??= []).push(v);

  for (const t of TOPOLOGIES) {
    const ti: ClusterInfo['topologies'][string] = (info.topologies[t.key] = { failures: {}, firstErrors: {}, samples: {} });
    await withTempDir(async (dir) => {
      const topo: Topology = { size: t.size, urls: [], nodes: [], ids: [], connections: [], natsPids: () => [] };
      try {
        const t0 = now();
        await startTopology(topo, dir, o);
        ti.startS = +((now() - t0) / 1000).toFixed(1);
        o.log(`  ${t.label}: started in ${ti.startS} s (nodes ${topo.nodes.map((n) => n.url).join(', ')})`);
        await measureTopology(t.key, topo, dir, o, push, ti);
      } catch (error) {
        ti.failures!.topology = String(error).slice(0, 600);
        o.log(`  ${t.label}: FAILED ${String(error)}`);
      } finally {
        const t1 = now();
        ti.nodeExits = await stopTopology(topo, o.log);
        ti.stopS = +((now() - t1) / 1000).toFixed(1);
        o.log(`  ${t.label}: stopped in ${ti.stopS} s (${ti.nodeExits.join('; ')})`);
      }
    });
  }

  // Rows: per topology, the limits first, then Strata against them; then 3 nodes against 1.
  const names = (t: (typeof TOPOLOGIES)[number]) => ({
    rawTput: `raw js.publish, ${o.concurrency} in flight${t.size > 1 ? ' over the 3 servers' : ''} — ${t.label}`,
    tput: (c: CommandName) => `Strata ${c === 'CreateRepository' ? 'POST /commands/CreateRepository (a new repository each)' : 'POST /containers (CreateContainer, placed by the scheduler, not started)'}, ${o.concurrency} in flight${t.size > 1 ? ' round-robin over the 3 nodes' : ''} — ${t.label}`,
    rawLat: (p: string) => `raw publish → received by an ordered consumer on every server (1 at a time): ${p} — ${t.label}`,
    lat: (c: CommandName, p: string) => `Strata ${c} sent → projected on every node (1 at a time): ${p} — ${t.label}`,
  });
  const fig = (t: TopologyKey, key: string, unit: string) => {
    const v = results[t][key];
    return v && v.length ? figure(unit, v) : undefined;
  };
  const fail = (ti: ClusterInfo['topologies'][string], key: string) => ti.failures?.[key] ?? ti.failures?.topology ?? 'no run';
  const byName: Record<string, ClusterRow> = {};
  for (const t of TOPOLOGIES) {
    const n = names(t);
    const ti = info.topologies[t.key];
    const add = (row: ClusterRow) => {
      rows.push(row);
      if (!row.error) byName[row.name] = row;
    };
    const rawT = fig(t.key, 'rawTput', 'msgs/s');
    const cpuNote = (k: string) => {
      const c = ti.cpuPerOp?.[k];
      return c ? `CPU per op: nodes ${c.nodes.toFixed(2)} ms, nats-server${t.size > 1 ? 's' : ''} ${c.nats.toFixed(2)} ms, client ${c.client.toFixed(2)} ms` : undefined;
    };
    add(rawT ? { workload: 'cluster', name: n.rawTput, figure: rawT, limit: true, note: cpuNote('raw publish') } : failed(n.rawTput, fail(ti, 'rawTput'), 'msgs/s'));
    for (const c of o.commands) {
      const f = fig(t.key, `tput:${c}`, 'commands/s');
      const errs = results[t.key][`errors:${c}`]?.reduce((a, b) => a + b, 0) ?? 0;
      if (!f) add(failed(n.tput(c), fail(ti, `tput:${c}`)));
      else
        add({
          workload: 'cluster',
          name: n.tput(c),
          figure: f,
          reference: rawT ? n.rawTput : undefined,
          ratio: rawT ? f.median / rawT.median : undefined,
          note: `${errs ? `${errs} failed requests over the runs${ti.firstErrors?.[c] ? `, first: ${ti.firstErrors[c].slice(0, 160)}` : ''}; ` : ''}reference: raw JetStream publish on the same server${t.size > 1 ? 's' : ''}, same concurrency; ${cpuNote(c) ?? ''}${c === 'CreateContainer' && ti.placed ? `; placed on ${Object.entries(ti.placed).map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}`,
        });
    }
    for (const p of ['p50', 'p99'] as const) {
      const rawL = fig(t.key, `rawLat:${p}`, 'ms');
      add(rawL ? { workload: 'cluster', name: n.rawLat(p), figure: rawL, limit: true, note: `${ti.samples?.rawLat ?? '?'} samples` } : failed(n.rawLat(p), fail(ti, 'rawLat'), 'ms'));
      for (const c of o.commands) {
        const f = fig(t.key, `lat:${c}:${p}`, 'ms');
        const reply = fig(t.key, `reply:${c}:${p}`, 'ms');
        if (!f) add(failed(n.lat(c, p), fail(ti, `lat:${c}`), 'ms'));
        else
          add({
            workload: 'cluster',
            name: n.lat(c, p),
            figure: f,
            reference: rawL ? n.rawLat(p) : undefined,
            ratio: rawL ? f.median / rawL.median : undefined,
            note: `${ti.samples?.[`lat:${c}`] ?? '?'} samples; sent → reply alone: ${reply ? reply.median.toFixed(1) : '?'} ms (${p}); reference: raw publish → received on every server; ratio of latencies: lower is better`,
          });
      }
    }
  }
  // 3 nodes (R3) against 1 node (R1): what clustering costs.
  const [one, three] = TOPOLOGIES.map(names);
  const versus = (a: string, b: string, name: string, note?: string) => {
    const x = byName[a];
    const y = byName[b];
    if (x && y) rows.push({ workload: 'cluster', name, figure: x.figure, reference: b, ratio: x.figure.median / y.figure.median, note });
  };
  for (const c of o.commands) {
    versus(three.tput(c), one.tput(c), `Strata ${c} throughput, 3 nodes (R3) vs 1 node (R1)`);
    versus(three.lat(c, 'p50'), one.lat(c, 'p50'), `Strata ${c} sent → projected on every node p50, 3 nodes (R3) vs 1 node (R1)`, 'ratio of latencies: lower is better');
  }
  versus(three.rawTput, one.rawTput, 'raw js.publish throughput, R3 vs R1');
  versus(three.rawLat('p50'), one.rawLat('p50'), 'raw publish → received on every server p50, R3 vs R1', 'ratio of latencies: lower is better');
  for (const r of rows) if (!r.error) o.log(`  ${r.name}: ${r.figure.median.toFixed(1)} ${r.figure.unit} (${r.figure.min.toFixed(1)}–${r.figure.max.toFixed(1)})${r.ratio ? `, ${r.ratio.toFixed(2)}×` : ''}`);
  info.load![1] = +loadavg()[0].toFixed(1);
  agent.destroy();
  return { rows, info };

  async function measureTopology(
    key: TopologyKey,
    topo: Topology,
    dir: string,
    o: ClusterOptions,
    push: (t: TopologyKey, key: string, v: number) => void,
    ti: ClusterInfo['topologies'][string],
  ) {
    const { nodes, connections } = topo;
    info.natsServer ??= connections[0]?.info?.version;
    const jss: JetStreamClient[] = connections.map((nc) => jetstream(nc));
    const jsm = await jetstreamManager(connections[0]);
    const replicas = topo.size;
    const rawT = `BENCH_CLUSTER_T_${process.pid}`;
    const rawL = `BENCH_CLUSTER_L_${process.pid}`;
    for (const [name, subject] of [[rawT, 'bct.>'], [rawL, 'bcl.>']] as const)
      await jsm.streams.add({ name, subjects: [subject], storage: 'file' as never, num_replicas: replicas, allow_direct: true });

    const image = o.commands.includes('CreateContainer') ? await baseImage(nodes[0], dir) : undefined;
    let serial = 0;
    const tag = (run: string) => `${run}x${serial++}`;
    const spec = (c: CommandName, t: string) =>
      c === 'CreateRepository'
        ? { path: '/commands/CreateRepository', body: { name: `bench-r${t}` }, read: (reply: { position: number }) => `/repositories/bench-r${t}?minPosition=${reply.position}` }
        : {
            path: '/containers',
            body: { image, name: `c${t}`, cmd: ['/bin/true'] },
            read: (reply: { position: number; container?: { id: string } }) => `/containers/${reply.container?.id}?minPosition=${reply.position}`,
          };
    const placed: Record<string, number> = {};
    const cpu: Record<string, { nodes: number; nats: number; client: number }[]> = {};
    const send = async (c: CommandName, node: StrataNode, t: string) => {
      const s = spec(c, t);
      const reply = await call<{ position: number; container?: { id: string; nodeId: string } }>(node, s.path, { method: 'POST', body: s.body });
      if (reply.container) placed[reply.container.nodeId] = (placed[reply.container.nodeId] ?? 0) + 1;
      return { reply, read: s.read(reply) };
    };

    // Warm-up (unmeasured): a container on every node by name (the others fetch the image's blobs from
    // the object store), then a short burst of each scenario (JIT, SQLite caches, pools).
    if (image) for (const id of topo.ids) await call(nodes[0], '/containers', { method: 'POST', body: { image, name: `warm-${id}`, cmd: ['/bin/true'], node: id } });
    await rawThroughput(Math.min(0.5, o.durationS));
    for (const c of o.commands) await commandThroughput(c, 'w', Math.min(0.5, o.durationS));
    await rawLatency(0.2);
    for (const c of o.commands) await commandLatency(c, 'w', 0.2);
    for (const k of Object.keys(placed)) delete placed[k];

    const attempt = async (what: string, fn: () => Promise<void>) => {
      if (ti.failures![what]) return;
      try {
        await fn();
      } catch (error) {
        ti.failures![what] = String(error).slice(0, 400);
        o.log(`    ${what}: FAILED ${String(error).slice(0, 300)}`);
      }
    };
    for (let i = 1; i <= o.runs; i++) {
      const line: string[] = [];
      await attempt('rawTput', async () => {
        const r = await rawThroughput(o.durationS, 'raw publish');
        push(key, 'rawTput', r);
        line.push(`raw ${Math.round(r)}/s`);
      });
      for (const c of o.commands)
        await attempt(`tput:${c}`, async () => {
          const r = await commandThroughput(c, `${key}${i}`, o.durationS, c);
          push(key, `tput:${c}`, r.rate);
          push(key, `errors:${c}`, r.failed);
          if (r.failed) ti.firstErrors![c] ??= r.firstError ?? '?'; // some requests failed: counted in the row, the run still counts
          line.push(`${c} ${Math.round(r.rate)}/s${r.failed ? ` (${r.failed} failed)` : ''}`);
        });
      await attempt('rawLat', async () => {
        const s = (await rawLatency(o.latencyS)).sort((a, b) => a - b);
        push(key, 'rawLat:p50', percentile(s, 50));
        push(key, 'rawLat:p99', percentile(s, 99));
        ti.samples!.rawLat = (ti.samples!.rawLat ?? 0) + s.length;
        line.push(`raw p50 ${percentile(s, 50).toFixed(2)} p99 ${percentile(s, 99).toFixed(2)} ms`);
      });
      for (const c of o.commands)
        await attempt(`lat:${c}`, async () => {
          const s = await commandLatency(c, `${key}${i}l`, o.latencyS);
          const total = s.map((x) => x.total).sort((a, b) => a - b);
          const reply = s.map((x) => x.reply).sort((a, b) => a - b);
          for (const p of [50, 99]) {
            push(key, `lat:${c}:p${p}`, percentile(total, p));
            push(key, `reply:${c}:p${p}`, percentile(reply, p));
          }
          ti.samples![`lat:${c}`] = (ti.samples![`lat:${c}`] ?? 0) + s.length;
          line.push(`${c} p50 ${percentile(total, 50).toFixed(1)} p99 ${percentile(total, 99).toFixed(1)} ms (reply p50 ${percentile(reply, 50).toFixed(1)})`);
        });
      o.log(`    ${key} run ${i}: ${line.join('; ')}`);
    }
    if (Object.keys(placed).length) ti.placed = { ...placed };
    const med = (xs: number[]) => +figure('ms', xs).median.toFixed(3);
    ti.cpuPerOp = Object.fromEntries(
      Object.entries(cpu).map(([k, xs]) => [k, { nodes: med(xs.map((x) => x.nodes)), nats: med(xs.map((x) => x.nats)), client: med(xs.map((x) => x.client)) }]),
    );
    o.log(`    ${key} CPU ms per operation (nodes / nats-servers / client): ${Object.entries(ti.cpuPerOp).map(([k, v]) => `${k} ${v.nodes} / ${v.nats} / ${v.client}`).join('; ')}`);
    for (const name of [rawT, rawL]) await jsm.streams.delete(name).catch(() => false);

    /** CPU ms of the nodes, the nats-servers and this process over `fn`, per successful operation. */
    async function withCpu<T extends { ok: number }>(scenario: string | undefined, fn: () => Promise<T>): Promise<T> {
      const sum = (pids: number[]) => pids.reduce((a, p) => a + cpuMs(p), 0);
      const natsPids = topo.natsPids();
      const before = { nodes: sum(nodes.map((n) => n.pid)), nats: sum(natsPids), client: process.cpuUsage() };
      const r = await fn();
      if (scenario && r.ok > 0) {
        const client = process.cpuUsage(before.client);
        (cpu[scenario] ??= []).push({
          nodes: (sum(nodes.map((n) => n.pid)) - before.nodes) / r.ok,
          nats: (sum(natsPids) - before.nats) / r.ok,
          client: (client.user + client.system) / 1000 / r.ok,
        });
      }
      return r;
    }

    async function rawThroughput(durationS: number, scenario?: string): Promise<number> {
      let id = 0;
      const r = await withCpu(scenario, () =>
        closedLoop(o.concurrency, durationS, async (w) => {
          const n = id++;
          await jss[w % jss.length].publish(`bct.${n % 64}`, rawBody(n));
        }),
      );
      if (r.ok === 0) throw new Error(`no publish acknowledged: ${r.firstError}`);
      return r.rate;
    }

    async function commandThroughput(c: CommandName, run: string, durationS: number, scenario?: string) {
      const r = await withCpu(scenario, () =>
        closedLoop(o.concurrency, durationS, async (w) => {
          await send(c, nodes[w % nodes.length], tag(run));
        }),
      );
      if (r.ok === 0) throw new Error(`no command succeeded (${r.failed} failed): ${r.firstError}`);
      return r;
    }

    /** Samples (ms) of raw publish → ack back and received on every server's ordered consumer. */
    async function rawLatency(durationS: number): Promise<number[]> {
      const waiting = new Map<number, { left: number; done: () => void }>();
      const subscriptions: ConsumerMessages[] = [];
      const loops: Promise<void>[] = [];
      try {
        for (const js of jss) {
          const consumer = await js.consumers.get(rawL, { deliver_policy: DeliverPolicy.New });
          const messages = await consumer.consume();
          subscriptions.push(messages);
          loops.push(
            (async () => {
              for await (const m of messages) {
                const w = waiting.get(m.json<{ id: number }>().id);
                if (w && --w.left === 0) w.done();
              }
            })(),
          );
        }
        let id = 0;
        const once = async (via: number, timeoutMs = 10_000) => {
          const n = id++;
          const received = new Promise<void>((done) => waiting.set(n, { left: jss.length, done }));
          try {
            const t0 = now();
            await bounded('raw publish → received everywhere', timeoutMs, Promise.all([jss[via % jss.length].publish(`bcl.${n % 64}`, rawBody(n)), received]));
            return now() - t0;
          } finally {
            waiting.delete(n);
          }
        };
        // ready once a first message reaches every consumer (a message sent before one exists never reaches it: deliver new)
        await until('the raw ordered consumers', 10_000, async () => ((await once(0, 1000).catch(() => undefined)) === undefined ? undefined : true));
        const out: number[] = [];
        const deadline = now() + durationS * 1000;
        for (let i = 0; now() < deadline && out.length < o.maxSamples; i++) out.push(await once(i));
        return out;
      } finally {
        for (const s of subscriptions) await s.close().catch(() => undefined);
        await bounded('raw consumers to end', 5000, Promise.allSettled(loops)).catch(() => undefined);
      }
    }

    /** Samples of one command sent → projected on every node (ms), and sent → reply. */
    async function commandLatency(c: CommandName, run: string, durationS: number): Promise<{ total: number; reply: number }[]> {
      const out: { total: number; reply: number }[] = [];
      const deadline = now() + durationS * 1000;
      for (let i = 0; now() < deadline && out.length < o.maxSamples; i++) {
        const t0 = now();
        const { read } = await send(c, nodes[i % nodes.length], tag(run));
        const reply = now() - t0;
        await Promise.all(nodes.map((n) => call(n, read)));
        out.push({ total: now() - t0, reply });
      }
      if (out.length === 0) throw new Error('no sample');
      return out;
    }
  }
}

/** NATS (1 server or a 3-server cluster), its client connections, and the nodes; pushes into `topo` as it goes, so a failure half-way can still stop what started. */
async function startTopology(topo: Topology, dir: string, o: ClusterOptions): Promise<void> {
  if (topo.size === 1) {
    const server = await startNatsServer();
    topo.stopNats = () => server.stop();
    topo.urls = [server.url];
    const pids = natsPidOnPort(String(server.port));
    topo.natsPids = () => pids;
  } else {
    const cluster = await startNatsCluster({ size: topo.size, readyTimeoutMs: READY_MS });
    topo.stopNats = () => cluster.stop();
    topo.urls = cluster.servers.map((s) => s.url);
    topo.natsPids = () => cluster.servers.map((s) => s.pid).filter((p): p is number => p !== undefined);
  }
  for (const url of topo.urls) topo.connections.push(await connect({ servers: url, name: 'strata-bench-cluster' }));
  const token = `bench-admin-token-${process.pid}-${Date.now()}`;
  const start = async (i: number) => {
    const id = `n${i + 1}`;
    const data = join(dir, id);
    mkdirSync(data, { recursive: true });
    const node = await startNode(o.root, join(data, 'data'), join(data, 'node.log'), {
      token,
      args: ['--nats', topo.urls.join(','), '--nats-replicas', String(topo.size), '--node-id', id, '--capacity', '1000000'],
    });
    topo.nodes[i] = node;
    topo.ids[i] = id;
    liveNodes.add(node.pid);
  };
  // the first node creates the streams alone (concurrent first opens of an R3 stream: docs/DECISIONS.md)
  await start(0);
  // allSettled: a node still starting when another fails must be in topo.nodes before anything is stopped
  const started = await Promise.allSettled(Array.from({ length: topo.size - 1 }, (_, i) => start(i + 1)));
  const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  // every node sees every node ready and alive (NodeJoined projected, heartbeat in the KV bucket)
  await Promise.all(
    topo.nodes.map((node) =>
      until(`${topo.size} ready nodes seen by ${node.url}`, READY_MS, async () => {
        const items = (await call<{ items: { nodeId: string; status: string; alive: boolean }[] }>(node, '/nodes')).items;
        return items.filter((n) => n.status === 'ready' && n.alive).length === topo.size ? true : undefined;
      }),
    ),
  );
}

/** Node processes still running if this process exits without stopping them (a crash of the bench): killed with it. */
const liveNodes = new Set<number>();
process.once('exit', () => {
  for (const pid of liveNodes) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Nodes first (SIGTERM, bounded by startNode's stop), then the client connections, then NATS (bounded). */
async function stopTopology(topo: Topology, log: (s: string) => void): Promise<string[]> {
  const exits = await Promise.all(
    topo.nodes.filter(Boolean).map((n) =>
      n
        .stop()
        .catch((error: unknown) => {
          log(`    stopping node ${n.url}: ${String(error)}`);
          return `error: ${String(error).slice(0, 100)}`;
        })
        .finally(() => liveNodes.delete(n.pid)),
    ),
  );
  for (const nc of topo.connections) await bounded('closing a NATS connection', 5000, nc.close()).catch(() => undefined);
  if (topo.stopNats) await bounded('stopping NATS', STOP_NATS_MS, topo.stopNats()).catch((error: unknown) => log(`    stopping NATS: ${String(error)}`));
  return exits;
}

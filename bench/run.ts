/**
 * Strata benchmarks (issue 7): 1 append and 2 read + replay (SQLite), 3 JetStream, 4 HTTP, 5 layers,
 * 6 registry; 7 cluster (issue 9: 1 node on R1 and 3 nodes on R3, one log).
 *   npm run bench          full sizes, every workload
 *   npm run bench:quick    small sizes, under 2 minutes: append, read, layers, jetstream, cluster (http
 *                          and registry only when named: --only=http --quick)
 *   --only=append|read|jetstream|http|layers|registry|cluster (comma-separated for several)
 *   --build / --no-build   layers, http, registry, cluster: always run `npm run build` / never (default: only when dist/ is stale)
 *   --node-from=<commit>   layers, http, registry, cluster: start a node built from a clean `git archive` of that
 *                          commit (e.g. HEAD) instead of the working tree (which others may be changing)
 * Writes results/<date>.json and RESULTS.md (RESULTS.md only from a full run, unless --write-md).
 * With --only=… (and --write-md when --quick), only those workloads' sections (and the notes) of RESULTS.md are
 * replaced; the machine and versions at the top stay those of the run named there.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repositoryStreams } from './lib/events.ts';
import { figure, rate, repeat, type Figure } from './lib/stats.ts';
import { withTempDir } from './lib/tmp.ts';
import type { AppendResult } from './workloads/append.ts';
import { layersSection, layersWorkload, type LayersInfo } from './workloads/layers.ts';
import { mergeSection, section, type SectionRow } from './lib/section.ts';
import { buildCommit } from './lib/node-build.ts';
import type { CommandName } from './workloads/cluster.ts';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const writeMd = !quick || process.argv.includes('--write-md');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7); // append | read | jetstream | http | layers | registry | cluster, comma-separated
const QUICK_DEFAULT = ['append', 'read', 'layers', 'jetstream', 'cluster'];
const selected = (workload: string) => (only ? only.split(',').includes(workload) : !quick || QUICK_DEFAULT.includes(workload));
const build = process.argv.includes('--no-build') ? 'never' : process.argv.includes('--build') ? 'always' : 'auto';
const nodeFrom = process.argv.find((a) => a.startsWith('--node-from='))?.slice(12);

const SIZES = quick
  ? { runs: 5, append: { streams: 64, perStream: 8 }, read: { streams: 1000, perStream: 20 }, emmettRead: { streams: 1000, perStream: 20 }, layers: { treeMiB: 20 },
      jetstream: { streams: 64, perStream: 4, readEvents: 1024 }, http: { durationS: 1, rate: 500, connections: 16 }, registry: { imageMiB: 16, getDurationS: 1 },
      cluster: { durationS: 0.4, latencyS: 0.3, maxSamples: 200, concurrency: 16, commands: ['CreateRepository'] as CommandName[] } }
  : { runs: 5, append: { streams: 64, perStream: 32 }, read: { streams: 1000, perStream: 200 }, emmettRead: { streams: 1000, perStream: 100 }, layers: { treeMiB: 200 },
      jetstream: { streams: 64, perStream: 32, readEvents: 10240 }, http: { durationS: 5, rate: 500, connections: 16 }, registry: { imageMiB: 200, getDurationS: 3 },
      cluster: { durationS: 1.5, latencyS: 1, maxSamples: 500, concurrency: 16, commands: ['CreateRepository', 'CreateContainer'] as CommandName[] } };

interface Row {
  workload: string;
  name: string;
  reference?: string;
  figure: Figure;
  ratio?: number;
  target?: string;
  note?: string;
  peakRssMiB?: number;
  baselineRssMiB?: number;
  error?: string;
}
const rows: Row[] = [];
let layersInfo: LayersInfo | undefined;
const infos: Record<string, unknown> = {};
// Emmett 0.38.5 leaves statements running on a connection it closed when concurrent appends fail;
// their late SQLite errors must not end the whole run.
let strayErrors = 0;
const stray = (error: unknown) => {
  if (String((error as { code?: string })?.code ?? '').startsWith('SQLITE_')) strayErrors++;
  else throw error;
};
process.on('uncaughtException', stray);
process.on('unhandledRejection', stray);
const log = (s: string) => process.stderr.write(`${s}\n`);
const fmt = (f: Figure) => `${Math.round(f.median)} (${Math.round(f.min)}–${Math.round(f.max)})`;

async function measureAppend(name: string, once: (dir: string) => Promise<AppendResult>): Promise<Row> {
  const extras: unknown[] = [];
  try {
    const runs = await repeat(SIZES.runs, () =>
      withTempDir(async (dir) => {
        const r = await once(dir);
        if (r.extra) extras.push(r.extra);
        return rate(r.events, r.ms);
      }),
    );
    const row: Row = { workload: 'append', name, figure: figure('events/s', runs) };
    const apt = extras.map((e) => (e as { appendsPerTransaction?: number }).appendsPerTransaction).filter((x) => x !== undefined);
    if (apt.length) row.note = `appends per transaction ${(apt.reduce((a, b) => a + b, 0) / apt.length).toFixed(1)}`;
    log(`  ${name}: ${fmt(row.figure)} events/s${row.note ? ` (${row.note})` : ''}`);
    return row;
  } catch (error) {
    log(`  ${name}: FAILED ${String(error)}`);
    return { workload: 'append', name, figure: figure('events/s', [NaN]), error: String(error).slice(0, 300) };
  }
}

function readChild(spec: Record<string, unknown>): Promise<{ runs: number[]; events: number; baselineRssMiB: number; peakRssMiB: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', join(here, 'workloads/read-child.ts'), JSON.stringify(spec)], {
      cwd: here,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`${spec.contender} exited ${code}`))));
  });
}

/**
 * Several append contenders measured in rounds: each round runs every contender once (the order
 * rotated), so a change in the machine's load (it is shared) falls on all of them alike, not on
 * whichever ran last; a contender that fails drops out with an error row.
 */
async function measureAppendsInterleaved(contenders: [string, (dir: string) => Promise<AppendResult>][]): Promise<Row[]> {
  const runs = contenders.map(() => [] as number[]);
  const extras = contenders.map(() => [] as unknown[]);
  const errors = contenders.map(() => undefined as string | undefined);
  for (let round = 0; round < SIZES.runs; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (k + round) % contenders.length;
      if (errors[i]) continue;
      (globalThis as { gc?: () => void }).gc?.();
      try {
        const r = await withTempDir((dir) => contenders[i][1](dir));
        if (r.extra) extras[i].push(r.extra);
        runs[i].push(rate(r.events, r.ms));
      } catch (error) {
        errors[i] = String(error).slice(0, 300);
      }
    }
  }
  return contenders.map(([name], i): Row => {
    if (errors[i]) {
      log(`  ${name}: FAILED ${errors[i]}`);
      return { workload: 'append', name, figure: figure('events/s', [NaN]), error: errors[i] };
    }
    const row: Row = { workload: 'append', name, figure: figure('events/s', runs[i]) };
    const apt = extras[i].map((e) => (e as { appendsPerTransaction?: number }).appendsPerTransaction).filter((x) => x !== undefined);
    if (apt.length) row.note = `appends per transaction ${(apt.reduce((a, b) => a + b, 0) / apt.length).toFixed(1)}`;
    log(`  ${name}: ${fmt(row.figure)} events/s${row.note ? ` (${row.note})` : ''}`);
    return row;
  });
}

async function appendWorkload() {
  // loaded here, not at the top: a workload whose imports do not compile must not stop --only=<another>
  const { emmett, raw, strataCommand, strataStore } = await import('./workloads/append.ts');
  const { streams: s, perStream } = SIZES.append;
  const streams = repositoryStreams(s, perStream, 'tags');
  log(`append: ${s * perStream} events on ${s} streams, WAL, synchronous=FULL, ${SIZES.runs} runs each (raw and Strata interleaved)`);
  const modes = [
    { mode: 'sequential', label: '1 writer', target: '≥ 0.6× raw' },
    { mode: 'concurrent', label: '64 writers', target: '≥ 3× raw' },
  ] as const;
  const [rawRow, ...strata] = await measureAppendsInterleaved([
    ['raw better-sqlite3, 1 transaction per event', (d) => raw(d, streams)],
    ...modes.flatMap(({ mode, label }): [string, (d: string) => Promise<AppendResult>][] => [
      [`Strata command path, ${label}`, (d) => strataCommand(d, streams, mode)],
      [`Strata event store append, ${label}`, (d) => strataStore(d, streams, mode)],
    ]),
  ]);
  rows.push(rawRow);
  for (const [k, { mode, label, target }] of modes.entries()) {
    const [c, st] = strata.slice(2 * k, 2 * k + 2);
    // Emmett (~10 s a run, and it fails with 64 writers) is measured on its own, after Strata.
    const e = await measureAppend(`Emmett SQLite appendToStream, ${label}`, (d) => emmett(d, streams, mode));
    rows.push({ ...c, reference: rawRow.name, ratio: c.figure.median / rawRow.figure.median, target });
    rows.push({ ...st, reference: rawRow.name, ratio: st.figure.median / rawRow.figure.median });
    rows.push({ ...e, reference: rawRow.name, ratio: e.figure.median / rawRow.figure.median });
    // Emmett cannot append concurrently (see the failure row): then the comparison is to its sequential figure.
    const emmettRef = e.error ? rows.find((r) => r.name === 'Emmett SQLite appendToStream, 1 writer') : e;
    if (emmettRef && !emmettRef.error)
      rows.push({
        workload: 'append',
        name: `Strata command path vs Emmett, ${label}`,
        reference: emmettRef.name,
        figure: c.figure,
        ratio: c.figure.median / emmettRef.figure.median,
        target: '> 1× Emmett',
      });
    if (e.error) await new Promise((r) => setTimeout(r, 500)); // let Emmett's stray callbacks fail now
  }
}

async function readWorkload() {
  const { populateEmmett, populateStrata } = await import('./workloads/read.ts');
  const { streams: s, perStream } = SIZES.read;
  const total = s * perStream;
  log(`read: ${total} events on ${s} streams (realistic mix), ${SIZES.runs} runs each, one process per contender`);
  await withTempDir(async (dir) => {
    const strataDb = join(dir, 'strata.db');
    const emmettDb = join(dir, 'emmett.db');
    let t0 = performance.now();
    populateStrata(strataDb, repositoryStreams(s, perStream, 'full'));
    log(`  setup: strata.db with ${total} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const em = SIZES.emmettRead;
    let emmettOk = true;
    t0 = performance.now();
    try {
      await populateEmmett(emmettDb, repositoryStreams(em.streams, em.perStream, 'full'));
      log(`  setup: emmett.db with ${em.streams * em.perStream} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (error) {
      emmettOk = false;
      log(`  setup of emmett.db FAILED: ${String(error)}`);
    }
    const run = async (contender: string, name: string, extra: Record<string, unknown> = {}): Promise<Row> => {
      try {
        const r = await readChild({ contender, strataDb, emmettDb, runs: SIZES.runs, ...extra });
        const row: Row = { workload: 'read', name: `${name} (${r.events} events)`, figure: figure('events/s', r.runs), peakRssMiB: r.peakRssMiB, baselineRssMiB: r.baselineRssMiB };
        log(`  ${row.name}: ${fmt(row.figure)} events/s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB`);
        return row;
      } catch (error) {
        log(`  ${name}: FAILED ${String(error)}`);
        return { workload: 'read', name, figure: figure('events/s', [NaN]), error: String(error) };
      }
    };
    const rawIt = await run('raw-iterate', 'raw better-sqlite3 iterate()');
    const read = await run('strata-read', 'Strata readAll, pages of 1000');
    const rawRI = await run('raw-read-insert', 'raw iterate() + batched insert of the same rows (500/tx)');
    const rawRB = await run('raw-read-insert-rebuild', 'raw iterate() + insert at rebuild settings (journal MEMORY, synchronous OFF, 2000/tx, index after the load)');
    const replay = await run('strata-replay', 'Strata ProjectionEngine catch-up from 0 (all projectors)');
    const adminReplay = await run('strata-admin-replay', 'Strata replay() = POST /admin/replay (rebuild, two checksums, swap)');
    const target = '≥ 0.5× raw, ≥ 100,000/s, peak RSS < 300 MiB';
    rows.push(rawIt, rawRI, rawRB);
    rows.push({ ...read, reference: rawIt.name, ratio: read.figure.median / rawIt.figure.median });
    // Against the copy at the settings the rebuild itself uses (like for like), and the first reference.
    rows.push({ ...replay, reference: rawRB.name, ratio: replay.figure.median / rawRB.figure.median, target });
    rows.push({ ...replay, name: `${replay.name}, against the first reference`, reference: rawRI.name, ratio: replay.figure.median / rawRI.figure.median, peakRssMiB: undefined });
    rows.push({ ...adminReplay, reference: rawRB.name, ratio: adminReplay.figure.median / rawRB.figure.median, target });
    if (emmettOk) {
      const e = await run('emmett-read', `Emmett readStream of every stream (${em.streams} streams)`, em);
      rows.push({ ...e, reference: read.name, ratio: e.figure.median / read.figure.median });
      rows.push({ workload: 'read', name: 'Strata readAll vs Emmett reading the same streams', reference: e.name, figure: read.figure, ratio: read.figure.median / e.figure.median, target: '> 1× Emmett' });
    }
  });
}

function versions() {
  const v = (p: string) => {
    try {
      return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
    } catch {
      return 'missing';
    }
  };
  const root = join(here, '..');
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim();
  } catch {
    // not a git checkout: the results say 'unknown'
  }
  let sqlite = 'unknown';
  try {
    sqlite = execFileSync(process.execPath, ['-e', "const D=require('better-sqlite3');console.log(new D(':memory:').prepare('select sqlite_version() v').get().v)"], { cwd: root }).toString().trim();
  } catch {
    // better-sqlite3 not installed at the root: the results say 'unknown'
  }
  const tool = (command: string) => {
    try {
      return execFileSync('sh', ['-c', command]).toString().trim().split('\n')[0];
    } catch {
      return 'missing';
    }
  };
  return {
    node: process.version,
    strataCommit: commit,
    strata: v(join(root, 'package.json')),
    'better-sqlite3': v(join(root, 'node_modules/better-sqlite3/package.json')),
    sqlite,
    '@event-driven-io/emmett': v(join(here, 'node_modules/@event-driven-io/emmett/package.json')),
    '@event-driven-io/emmett-sqlite': v(join(here, 'node_modules/@event-driven-io/emmett-sqlite/package.json')),
    sqlite3: v(join(here, 'node_modules/sqlite3/package.json')),
    ...(selected('layers') ? { tar: tool("tar --version | sed -n 1p | awk '{print $NF}'"), umoci: tool("umoci --version | awk '{print $NF}'") } : {}),
    ...(selected('jetstream') || selected('cluster') ? { 'nats-server': tool("nats-server --version | awk '{print $NF}'"), '@nats-io/jetstream': v(join(root, 'node_modules/@nats-io/jetstream/package.json')) } : {}),
    ...(selected('http') || selected('registry') ? { autocannon: v(join(here, 'node_modules/autocannon/package.json')) } : {}),
    ...(selected('registry') ? { skopeo: tool("skopeo --version | awk '{print $NF}'"), 'docker-registry': tool("docker-registry --version | awk '{print $NF}'") } : {}),
  };
}

const started = new Date();
const t0 = performance.now();
/** A workload that cannot even start (e.g. its imports no longer compile) is a failed row, not the end of the run. */
async function guarded(workload: string, fn: () => Promise<void>) {
  try {
    await fn();
  } catch (error) {
    log(`${workload}: FAILED ${String(error).split('\n')[0]}`);
    rows.push({ workload, name: `${workload} workload`, figure: figure('events/s', [NaN]), error: String(error).split('\n').slice(0, 3).join(' ').slice(0, 300) });
  }
}
if (selected('append')) await guarded('append', appendWorkload);
if (selected('read')) await guarded('read', readWorkload);
if (selected('jetstream'))
  await guarded('jetstream', async () => {
    const { jetstreamWorkload } = await import('./workloads/jetstream.ts');
    const r = await jetstreamWorkload({ ...SIZES.jetstream, runs: SIZES.runs, log });
    rows.push(...(r.rows as Row[]));
    infos.jetstream = r.info;
  });
/** The repository the node is built and started from: the working tree, or a clean export of --node-from. */
let nodeRoot: { root: string; state?: string } | undefined;
const needNode = ['http', 'layers', 'registry', 'cluster'].some(selected);
if (needNode) {
  nodeRoot = { root: join(here, '..') };
  if (nodeFrom)
    try {
      const b = buildCommit(join(here, '..'), nodeFrom, log);
      nodeRoot = { root: b.root, state: b.state };
      infos.node = b.state;
    } catch (error) {
      log(`node build from ${nodeFrom}: FAILED ${String(error)}`);
      rows.push({ workload: 'node', name: `build of ${nodeFrom}`, figure: figure('', [NaN]), error: String(error).slice(0, 300) });
      nodeRoot = undefined;
    }
}
if (selected('http') && nodeRoot)
  await guarded('http', async () => {
    const { httpWorkload } = await import('./workloads/http.ts');
    const r = await httpWorkload({ root: nodeRoot!.root, ...SIZES.http, runs: SIZES.runs, build, log });
    rows.push(...(r.rows as Row[]));
    infos.http = r.info;
  });
if (selected('layers') && nodeRoot) {
  const r = await layersWorkload({ root: nodeRoot.root, treeBytes: SIZES.layers.treeMiB * 2 ** 20, runs: SIZES.runs, build, log });
  rows.push(...r.rows);
  layersInfo = r.info;
}
if (selected('registry') && nodeRoot)
  await guarded('registry', async () => {
    const { registryWorkload } = await import('./workloads/registry.ts');
    const r = await registryWorkload({ root: nodeRoot!.root, ...SIZES.registry, runs: SIZES.runs, build, log });
    rows.push(...(r.rows as Row[]));
    infos.registry = r.info;
  });
if (selected('cluster') && nodeRoot)
  await guarded('cluster', async () => {
    const { clusterWorkload } = await import('./workloads/cluster.ts');
    const r = await clusterWorkload({ root: nodeRoot!.root, ...SIZES.cluster, runs: SIZES.runs, build, log });
    rows.push(...(r.rows as Row[]));
    infos.cluster = r.info;
  });
const machine = {
  nproc: Number(execFileSync('nproc').toString().trim()),
  cpu: cpus()[0]?.model ?? 'unknown',
  memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
  freeMemoryGiB: +(freemem() / 2 ** 30).toFixed(1),
  platform: `${process.platform} ${process.arch}`,
};
const result = {
  date: started.toISOString(),
  mode: quick ? 'quick' : 'full',
  command: quick ? 'npm run bench:quick' : 'npm run bench',
  durationS: Math.round((performance.now() - t0) / 1000),
  machine,
  versions: versions(),
  sizes: SIZES,
  ...(layersInfo ? { layers: layersInfo } : {}),
  ...infos,
  rows,
};
mkdirSync(join(here, 'results'), { recursive: true });
const file = join(here, 'results', `${started.toISOString().slice(0, 19).replace(/:/g, '-')}${quick ? '-quick' : ''}.json`);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
log(`wrote ${file} (${result.durationS} s)${strayErrors ? `; ignored ${strayErrors} late SQLite errors from a failed Emmett run` : ''}`);
// A run of some workloads merges their sections into the RESULTS.md of an earlier run.
const partial = Boolean(only);
if (writeMd && partial && existsSync(join(here, 'RESULTS.md'))) {
  let md = readFileSync(join(here, 'RESULTS.md'), 'utf8');
  if (selected('layers')) md = mergeLayers(md, result, file);
  md = mergeNew(md, result, file, `From a run of --only=${only} (${result.mode}, ${result.date}, ${result.durationS} s); raw data: \`bench/results/${file.split('/').pop()}\`.`);
  writeFileSync(join(here, 'RESULTS.md'), md);
  log(`wrote RESULTS.md (replaced the sections of ${only} and the notes; the other sections are kept)`);
} else if (writeMd) {
  writeFileSync(join(here, 'RESULTS.md'), markdown(result, file));
  log('wrote RESULTS.md');
}

/** RESULTS.md of an earlier full run with its layers section (and the notes, from NOTES.md) replaced by this run's. */
function mergeLayers(existing: string, r: typeof result, jsonFile: string): string {
  const v = r.versions as Record<string, string>;
  const section = layersSection(
    r.rows.filter((row) => row.workload === 'layers') as Parameters<typeof layersSection>[0],
    layersInfo,
    r.sizes.runs,
    `From a layers-only run (${r.mode}, ${r.date}, ${r.durationS} s, strataCommit ${v.strataCommit}, node ${v.node}, GNU tar ${v.tar}, umoci ${v.umoci}); raw data: \`bench/results/${jsonFile.split('/').pop()}\`. The sections above come from the run named at the top. Reproduce: \`cd bench && npm run bench -- --only=layers --write-md\` (builds the node first when dist/ is stale; needs GNU tar, sha256sum and umoci on PATH).`,
  );
  const notesAt = existing.search(/^## Notes/m);
  const head = notesAt >= 0 ? existing.slice(0, notesAt) : `${existing.trimEnd()}\n\n`;
  const notes = existsSync(join(here, 'NOTES.md')) ? readFileSync(join(here, 'NOTES.md'), 'utf8') : '';
  const start = head.search(/^## 5\. Layers/m);
  if (start < 0) return `${head}${section}\n${notes}`;
  const next = head.slice(start + 1).search(/^## /m);
  return `${head.slice(0, start)}${section}\n${next >= 0 ? head.slice(start + 1 + next) : ''}${notes}`;
}

/** The intro of the sections of workloads 3, 4, 6 and 7 (the figures' definitions are in NOTES.md). */
function newSections(r: typeof result, source?: string): { n: number; text: string }[] {
  const out: { n: number; text: string }[] = [];
  const v = r.versions as Record<string, string>;
  const src = source ? `${source}\n\n` : '';
  const rowsOf = (w: string) => r.rows.filter((row) => row.workload === w) as SectionRow[];
  const load = (i: unknown) => {
    const l = (i as { load?: [number, number] } | undefined)?.load;
    return l ? ` Load average ${l[0]} at the start, ${l[1]} at the end (1-minute; ${r.machine.nproc} cores).` : '';
  };
  const node = infos.node ? `node built from ${infos.node as string}` : 'node built from the working tree';
  if (source && rowsOf('append').length) out.push({ n: 1, text: appendSection(r, source) });
  if (source && rowsOf('read').length) out.push({ n: 2, text: readSection(r, source) });
  if (rowsOf('jetstream').length) {
    const i = infos.jetstream as { appendEvents?: number; readEvents?: number; natsServer?: string } | undefined;
    out.push({ n: 3, text: section('3. JetStream', `${src}nats-server ${i?.natsServer ?? v['nats-server'] ?? '?'} (Debian) on 127.0.0.1, file storage, 1 replica, @nats-io/jetstream ${v['@nats-io/jetstream'] ?? '?'}. Append: the ${i?.appendEvents ?? '?'} events of workload 1's mix (${r.sizes.jetstream.streams} repository streams), one event per message/append, into fresh streams each run; read: a log of ${i?.readEvents ?? '?'} events written through the adapter. ${r.sizes.runs} runs, contenders interleaved.${load(i)}`, rowsOf('jetstream')) });
  }
  if (rowsOf('http').length) {
    const i = infos.http as { rate?: number; connections?: number; durationS?: number } | undefined;
    out.push({ n: 4, text: section('4. HTTP', `${src}A real node (\`node bin/strata.js serve\`, SQLite at synchronous=FULL, ${node}) and the raw reference server, each its own process on 127.0.0.1; autocannon ${v.autocannon ?? '?'} in a third process at a fixed ${i?.rate ?? '?'} req/s over ${i?.connections ?? '?'} connections, ${i?.durationS ?? '?'} s a run, ${r.sizes.runs} runs, scenarios interleaved (after 1 s of warm-up each).${load(i)}`, rowsOf('http')) });
  }
  if (rowsOf('registry').length) {
    const i = infos.registry as { imageBytes?: number; layers?: number } | undefined;
    out.push({ n: 6, text: section('6. Registry', `${src}skopeo ${v.skopeo ?? '?'}, docker-registry ${v['docker-registry'] ?? '?'} (Debian; filesystem storage in a temp dir, 127.0.0.1), Strata ${node}. Each run pushes a freshly generated OCI layout of ${((i?.imageBytes ?? 0) / 2 ** 20).toFixed(1)} MiB (${i?.layers ?? '?'} uncompressed layers of random bytes) to a new repository of each; MiB/s counts the layers' bytes. ${r.sizes.runs} runs, interleaved.${load(i)}`, rowsOf('registry')) });
  }
  if (rowsOf('cluster').length) {
    const i = infos.cluster as { concurrency?: number; durationS?: number; latencyS?: number; natsServer?: string; topologies?: Record<string, { startS?: number }> } | undefined;
    out.push({ n: 7, text: section('7. Cluster (several nodes, one log)', `${src}Reproduce: \`cd bench && npm run bench:cluster\` (with \`-- --node-from=HEAD\`, as this run, the node is built from a clean export of a commit, otherwise from the working tree when dist/ is stale; needs nats-server on PATH). Two topologies in one run, each started from scratch on 127.0.0.1 (free ports, temp data dirs) and stopped after: one nats-server ${i?.natsServer ?? v['nats-server'] ?? '?'} + one Strata node (streams R1), and three nats-servers clustered with routes + three Strata nodes (streams R3); ${node}. Throughput: ${i?.concurrency ?? '?'} requests in flight (closed loop, node:http keep-alive in the bench process), round-robin over the nodes, ${i?.durationS ?? '?'} s a run; the reference is raw \`js.publish\` at the same concurrency on the same server(s). Latency: one command at a time, ${i?.latencyS ?? '?'} s a run, from the send until a \`?minPosition=\` read of the created item has answered on every node (its projection applied the event); the reference is a raw publish until its ack is back and an ordered consumer on every server has it. p50/p99 per run, figure = median of the runs' values. ${r.sizes.runs} runs per topology, scenarios interleaved. Start-up: ${Object.entries(i?.topologies ?? {}).map(([k, t]) => `${k.toUpperCase()} ${t.startS ?? '?'} s`).join(', ')}.${load(i)}`, rowsOf('cluster')) });
  }
  return out;
}

function mergeNew(existing: string, r: typeof result, jsonFile: string, source: string): string {
  let md = existing;
  for (const s of newSections(r, source)) md = mergeSection(md, s.n, s.text);
  void jsonFile;
  const notesAt = md.search(/^## Notes/m);
  const notes = existsSync(join(here, 'NOTES.md')) ? readFileSync(join(here, 'NOTES.md'), 'utf8') : '';
  return notesAt >= 0 && notes ? `${md.slice(0, notesAt)}${notes}` : md;
}

/** The table of workloads 1 and 2 (events/s, peak RSS). */
function eventsTable(r: typeof result, workload: string): string {
  const n = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
  return [
    '| Figure | events/s median | min | max | reference | ratio | target | peak RSS |',
    '|---|---:|---:|---:|---|---:|---|---:|',
    ...r.rows
      .filter((row) => row.workload === workload)
      .map((row) =>
        `| ${row.name}${row.error ? ` — **failed**: ${row.error.replace(/\|/g, '/')}` : ''}${row.note ? ` (${row.note})` : ''} | ${n(row.figure.median)} | ${n(row.figure.min)} | ${n(row.figure.max)} | ${row.reference ?? 'limit'} | ${row.ratio !== undefined && Number.isFinite(row.ratio) ? `${row.ratio.toFixed(2)}×` : ''} | ${row.target ?? ''} | ${row.peakRssMiB ? `${row.peakRssMiB.toFixed(0)} MiB` : ''} |`,
      ),
  ].join('\n');
}

/** Section 1 (append); `source` says which run it comes from when the rest of RESULTS.md is another run's. */
function appendSection(r: typeof result, source = ''): string {
  return `## 1. Append, SQLite (WAL, synchronous=FULL)

${source ? `${source}\n\n` : ''}${r.sizes.append.streams * r.sizes.append.perStream} events: ${r.sizes.append.streams} repository streams × ${r.sizes.append.perStream} (RepositoryCreated, then ImageTagged moving tags). One writer appends them round-robin; "64 writers" run one async writer per stream at once. Every run starts from an empty database in os.tmpdir(). Raw and Strata run interleaved (each of the ${r.sizes.runs} rounds runs each of them once, in rotated order, so the shared machine's load falls on all alike); Emmett runs after them.

${eventsTable(r, 'append')}
`;
}

/** Section 2 (read and replay); `source` as for section 1. */
function readSection(r: typeof result, source = ''): string {
  return `## 2. Read and replay

${source ? `${source}\n\n` : ''}${r.sizes.read.streams * r.sizes.read.perStream} events: ${r.sizes.read.streams} repositories × ${r.sizes.read.perStream} (creates, tag moves, some untags and visibility changes). The live read.db runs at WAL/NORMAL; builds from position 0 (a fresh read.db, replay) go into a scratch file at journal MEMORY/synchronous OFF that is fsynced and swapped in. Each contender runs in its own process; peak RSS is that process's maxRSS over its runs (it includes Node + loaded modules, about ${Math.round(r.rows.find((x) => x.baselineRssMiB)?.baselineRssMiB ?? 0)} MiB before the first run).

${eventsTable(r, 'read')}
`;
}

function markdown(r: typeof result, jsonFile: string): string {
  const md = `# Strata benchmark results

Generated by \`bench/run.ts\` (${r.mode} run, ${r.date}, ${r.durationS} s); raw data: \`bench/results/${jsonFile.split('/').pop()}\`.
Each figure: median of ${r.sizes.runs} runs, with min and max; ratio = median / reference's median, measured in the same run.

## Reproduce

\`\`\`sh
npm ci                      # at the repo root: Strata's own dependencies (better-sqlite3, tsx, Nest)
cd bench && npm ci          # the peers (Emmett; sqlite3 compiles for ~2 min)
npm run bench               # full sizes (this file); npm run bench:quick for small sizes (results/*-quick.json only)
\`\`\`

## Machine and versions

- ${r.machine.nproc} cores (${r.machine.cpu}), ${r.machine.memoryGiB} GiB memory, ${r.machine.platform}
- ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}

${appendSection(r)}
${readSection(r)}${r.rows.some((row) => row.workload === 'layers') ? `\n${layersSection(r.rows.filter((row) => row.workload === 'layers') as Parameters<typeof layersSection>[0], layersInfo, r.sizes.runs)}` : ''}${existsSync(join(here, 'NOTES.md')) ? `\n${readFileSync(join(here, 'NOTES.md'), 'utf8')}` : ''}`;
  return newSections(r).reduce((m, x) => mergeSection(m, x.n, x.text), md);
}

/**
 * Strata benchmarks (issue 7), workloads 1 (append) and 2 (read + replay), SQLite, and 5 (layers).
 *   npm run bench          full sizes
 *   npm run bench:quick    small sizes, under 2 minutes
 *   --only=append|read|layers (comma-separated for several)
 *   --build / --no-build   layers: always run `npm run build` / never (default: only when dist/ is stale)
 * Writes results/<date>.json and RESULTS.md (RESULTS.md only from a full run, unless --write-md).
 * With --only=layers --write-md, only the "5. Layers" section (and the notes) of RESULTS.md is replaced.
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

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const writeMd = !quick || process.argv.includes('--write-md');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7); // append | read | layers, comma-separated
const selected = (workload: string) => !only || only.split(',').includes(workload);
const build = process.argv.includes('--no-build') ? 'never' : process.argv.includes('--build') ? 'always' : 'auto';

const SIZES = quick
  ? { runs: 5, append: { streams: 64, perStream: 8 }, read: { streams: 1000, perStream: 20 }, emmettRead: { streams: 1000, perStream: 20 }, layers: { treeMiB: 20 } }
  : { runs: 5, append: { streams: 64, perStream: 32 }, read: { streams: 1000, perStream: 200 }, emmettRead: { streams: 1000, perStream: 100 }, layers: { treeMiB: 200 } };

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

async function appendWorkload() {
  // loaded here, not at the top: a workload whose imports do not compile must not stop --only=<another>
  const { emmett, raw, strataCommand, strataStore } = await import('./workloads/append.ts');
  const { streams: s, perStream } = SIZES.append;
  const streams = repositoryStreams(s, perStream, 'tags');
  log(`append: ${s * perStream} events on ${s} streams, WAL, synchronous=FULL, ${SIZES.runs} runs each`);
  const rawRow = await measureAppend('raw better-sqlite3, 1 transaction per event', (d) => raw(d, streams));
  rows.push(rawRow);
  const pairs: [string, string, (d: string) => Promise<AppendResult>, (d: string) => Promise<AppendResult>, string][] = [
    ['sequential', '1 writer', (d) => strataCommand(d, streams, 'sequential'), (d) => emmett(d, streams, 'sequential'), '≥ 0.6× raw'],
    ['concurrent', '64 writers', (d) => strataCommand(d, streams, 'concurrent'), (d) => emmett(d, streams, 'concurrent'), '≥ 3× raw'],
  ];
  for (const [mode, label, cmd, em, target] of pairs) {
    const c = await measureAppend(`Strata command path, ${label}`, cmd);
    const st = await measureAppend(`Strata event store append, ${label}`, (d) => strataStore(d, streams, mode as 'sequential'));
    const e = await measureAppend(`Emmett SQLite appendToStream, ${label}`, em);
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
    const replay = await run('strata-replay', 'Strata ProjectionEngine catch-up from 0 (all projectors)');
    rows.push(rawIt, rawRI);
    rows.push({ ...read, reference: rawIt.name, ratio: read.figure.median / rawIt.figure.median });
    rows.push({ ...replay, reference: rawRI.name, ratio: replay.figure.median / rawRI.figure.median, target: '≥ 0.5× raw, ≥ 100,000/s, peak RSS < 300 MiB' });
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
if (selected('layers')) {
  const r = await layersWorkload({ root: join(here, '..'), treeBytes: SIZES.layers.treeMiB * 2 ** 20, runs: SIZES.runs, build, log });
  rows.push(...r.rows);
  layersInfo = r.info;
}
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
  rows,
};
mkdirSync(join(here, 'results'), { recursive: true });
const file = join(here, 'results', `${started.toISOString().slice(0, 19).replace(/:/g, '-')}${quick ? '-quick' : ''}.json`);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
log(`wrote ${file} (${result.durationS} s)${strayErrors ? `; ignored ${strayErrors} late SQLite errors from a failed Emmett run` : ''}`);
if (writeMd && only === 'layers' && existsSync(join(here, 'RESULTS.md'))) {
  writeFileSync(join(here, 'RESULTS.md'), mergeLayers(readFileSync(join(here, 'RESULTS.md'), 'utf8'), result, file));
  log('wrote RESULTS.md (replaced its "5. Layers" section and the notes; the other sections are kept)');
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

function markdown(r: typeof result, jsonFile: string): string {
  const n = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
  const table = (workload: string) =>
    [
      '| Figure | events/s median | min | max | reference | ratio | target | peak RSS |',
      '|---|---:|---:|---:|---|---:|---|---:|',
      ...r.rows
        .filter((row) => row.workload === workload)
        .map((row) =>
          `| ${row.name}${row.error ? ` — **failed**: ${row.error.replace(/\|/g, '/')}` : ''}${row.note ? ` (${row.note})` : ''} | ${n(row.figure.median)} | ${n(row.figure.min)} | ${n(row.figure.max)} | ${row.reference ?? 'limit'} | ${row.ratio !== undefined && Number.isFinite(row.ratio) ? `${row.ratio.toFixed(2)}×` : ''} | ${row.target ?? ''} | ${row.peakRssMiB ? `${row.peakRssMiB.toFixed(0)} MiB` : ''} |`,
        ),
    ].join('\n');
  return `# Strata benchmark results

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

## 1. Append, SQLite (WAL, synchronous=FULL)

${r.sizes.append.streams * r.sizes.append.perStream} events: ${r.sizes.append.streams} repository streams × ${r.sizes.append.perStream} (RepositoryCreated, then ImageTagged moving tags). One writer appends them round-robin; "64 writers" run one async writer per stream at once. Every run starts from an empty database in os.tmpdir().

${table('append')}

## 2. Read and replay

${r.sizes.read.streams * r.sizes.read.perStream} events: ${r.sizes.read.streams} repositories × ${r.sizes.read.perStream} (creates, tag moves, some untags and visibility changes), read.db at WAL/NORMAL. Each contender runs in its own process; peak RSS is that process's maxRSS over its runs (it includes Node + loaded modules, about ${Math.round(r.rows.find((x) => x.baselineRssMiB)?.baselineRssMiB ?? 0)} MiB before the first run).

${table('read')}
${r.rows.some((row) => row.workload === 'layers') ? `\n${layersSection(r.rows.filter((row) => row.workload === 'layers') as Parameters<typeof layersSection>[0], layersInfo, r.sizes.runs)}` : ''}${existsSync(join(here, 'NOTES.md')) ? `\n${readFileSync(join(here, 'NOTES.md'), 'utf8')}` : ''}`;
}

/**
 * Workload 5, layers (issue 7; issue 3's streaming promise): import of a layer tar into a real node vs
 * `tar | sha256sum` of the same tree (the limit: read + hash) and `umoci repack` (a peer making a layer
 * from the same tree); the node's peak RSS over idle during each import; union-view reads vs `cat`.
 *   npm run bench:layers          200 MiB tree
 *   npm run bench:layers -- --quick   20 MiB
 * Writes results/<date>-layers[-quick].json and RESULTS-layers.md. Needs the root built (npm run build),
 * root (for /proc/<pid>/clear_refs), GNU tar, sha256sum, umoci.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { figure, type Figure } from './lib/stats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const quick = process.argv.includes('--quick');
const SIZE_MIB = quick ? 20 : 200;
const RUNS = 5;
const TOKEN = 'bench-admin-token-0123456789';
const log = (s: string) => process.stderr.write(`${s}\n`);

if (!existsSync(join(root, 'dist/apps/strata'))) throw new Error('build Strata first: npm run build at the repo root');
for (const tool of ['tar', 'sha256sum', 'umoci']) {
  if (spawnSync('which', [tool]).status !== 0) throw new Error(`${tool} is missing: apt-get install ${tool === 'sha256sum' ? 'coreutils' : tool}`);
}

/** Seeded pseudo-random bytes (xorshift): incompressible-ish, the same tree every run. */
function bytes(n: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed | 1;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out.writeInt32LE(x | 0, Math.min(i, n - 4));
  }
  return out;
}

function makeTree(dir: string): { largest: string } {
  const target = SIZE_MIB * 1024 * 1024;
  let written = 0;
  let n = 0;
  let largest = '';
  while (written < target) {
    const sub = join(dir, `d${n % 7}`, `e${n % 3}`);
    mkdirSync(sub, { recursive: true });
    const size = n % 10 === 0 ? Math.min(10 * 1024 * 1024, target - written) : Math.min(1 + ((n * 7919) % 65536), target - written);
    const file = join(sub, `f${n}.bin`);
    writeFileSync(file, bytes(Math.max(size, 4), n + 1));
    if (!largest || size > statSync(largest).size) largest = file;
    written += size;
    n++;
  }
  return { largest };
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

const status = (pid: number, field: 'VmRSS' | 'VmHWM') => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
const mibPerS = (bytesN: number, ms: number) => bytesN / 1024 / 1024 / (ms / 1000);
const time = (f: () => void) => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};

const work = await mkdtemp(join(tmpdir(), 'strata-bench-layers-'));
const rows: Array<{ name: string; figure: Figure; reference?: string; ratio?: number; target?: string; note?: string }> = [];
const node = { child: undefined as ReturnType<typeof spawn> | undefined };
try {
  const tree = join(work, 'tree');
  log(`layers: making a ${SIZE_MIB} MiB tree`);
  const { largest } = makeTree(tree);
  const tarFile = join(work, 'layer.tar');
  execFileSync('tar', ['-C', tree, '-cf', tarFile, '.']);
  const tarBytes = statSync(tarFile).size;

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  node.child = spawn(process.execPath, [join(root, 'bin/strata.js'), 'serve', '--port', String(port), '--data-dir', join(work, 'data'), '--admin-token', TOKEN, '--log-format', 'json'], { stdio: 'ignore' });
  for (let i = 0; !(await fetch(`${url}/healthz`).then((r) => r.ok, () => false)); i++) {
    if (i > 200) throw new Error('the node did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = node.child.pid!;
  const auth = { authorization: `Bearer ${TOKEN}` };

  const importMs: number[] = [];
  const overIdle: number[] = [];
  let hwmReset = true;
  for (let i = 0; i < RUNS; i++) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
    } catch {
      hwmReset = false;
    }
    const idle = status(pid, 'VmRSS');
    const t0 = performance.now();
    const r = await fetch(`${url}/images/import?tag=bench/layer:${i}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-tar' },
      body: createReadStream(tarFile) as unknown as BodyInit,
      duplex: 'half',
    } as RequestInit);
    if (r.status !== 201) throw new Error(`import failed: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
    importMs.push(performance.now() - t0);
    overIdle.push(status(pid, 'VmHWM') - idle);
  }
  const limitMs = Array.from({ length: RUNS }, () => time(() => execFileSync('sh', ['-c', `tar -C '${tree}' -cf - . | sha256sum`])));
  const umociMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const layout = join(work, `umoci-${i}`);
    execFileSync('umoci', ['init', '--layout', layout]);
    execFileSync('umoci', ['new', '--image', `${layout}:x`]);
    execFileSync('umoci', ['unpack', '--image', `${layout}:x`, join(layout, 'b')]);
    execFileSync('cp', ['-a', `${tree}/.`, join(layout, 'b/rootfs/')]);
    umociMs.push(time(() => execFileSync('umoci', ['repack', '--image', `${layout}:x`, join(layout, 'b')])));
    await rm(layout, { recursive: true, force: true });
  }
  const imp = figure('MiB/s', importMs.map((ms) => mibPerS(tarBytes, ms)));
  const lim = figure('MiB/s', limitMs.map((ms) => mibPerS(tarBytes, ms)));
  const umo = figure('MiB/s', umociMs.map((ms) => mibPerS(tarBytes, ms)));
  rows.push({ name: 'tar \\| sha256sum of the tree (limit)', figure: lim });
  rows.push({ name: 'umoci repack of the same tree (peer)', figure: umo });
  rows.push({ name: 'Strata import over HTTP (stream → content store → hardened tar check → image)', figure: imp, reference: 'limit', ratio: imp.median / lim.median });
  rows.push({ name: 'Strata import vs umoci repack', figure: imp, reference: 'peer', ratio: imp.median / umo.median });
  rows.push({
    name: `node peak RSS over idle during an import${hwmReset ? '' : ' (VmHWM not resettable: peak since start)'}`,
    figure: figure('MiB', overIdle),
    target: '< 150 MiB (issue 3)',
  });

  // Union view: a 10 MiB file read through the layers, vs cat of the same file.
  const path = `/${largest.slice(tree.length + 1)}`;
  const size = statSync(largest).size;
  const catMs = Array.from({ length: RUNS }, () => time(() => execFileSync('cat', [largest], { maxBuffer: 64 * 1024 * 1024 })));
  const readMs: number[] = [];
  const listMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t0 = performance.now();
    await (await fetch(`${url}/images/bench%2Flayer:0/content?path=${encodeURIComponent(path)}`, { headers: auth })).arrayBuffer();
    readMs.push(performance.now() - t0);
    t0 = performance.now();
    await (await fetch(`${url}/images/bench%2Flayer:0/files?path=/&recursive=true`, { headers: auth })).json();
    listMs.push(performance.now() - t0);
  }
  const cat = figure('MiB/s', catMs.map((ms) => mibPerS(size, ms)));
  const read = figure('MiB/s', readMs.map((ms) => mibPerS(size, ms)));
  rows.push({ name: `cat of a ${Math.round(size / 1024 / 1024)} MiB file (limit)`, figure: cat });
  rows.push({ name: 'Strata union-view read of the same file (scans the layer tar)', figure: read, reference: 'limit', ratio: read.median / cat.median });
  rows.push({ name: 'Strata union-view recursive listing of the tree (ms)', figure: figure('ms', listMs) });
} finally {
  if (node.child && node.child.exitCode === null) {
    node.child.kill('SIGTERM');
    await new Promise((r) => node.child!.once('exit', r));
  }
  await rm(work, { recursive: true, force: true });
}

const date = new Date().toISOString();
mkdirSync(join(here, 'results'), { recursive: true });
const file = join(here, 'results', `${date.slice(0, 19).replace(/:/g, '-')}-layers${quick ? '-quick' : ''}.json`);
writeFileSync(file, `${JSON.stringify({ date, mode: quick ? 'quick' : 'full', sizeMiB: SIZE_MIB, runs: RUNS, rows }, null, 2)}\n`);
const f = (x: number) => (Number.isFinite(x) ? (x >= 100 ? Math.round(x).toString() : x.toFixed(1)) : '—');
const md = `# Strata benchmark results: layers (workload 5)

Generated by \`bench/layers.ts\` (${quick ? 'quick' : 'full'} run, ${date}); raw data: \`bench/results/${file.split('/').pop()}\`.
A ${SIZE_MIB} MiB tree of seeded random files (a few of 10 MiB, many small), tarred once; ${RUNS} runs each; median (min–max).

| Figure | unit | median | min | max | reference | ratio | target |
|---|---|---:|---:|---:|---|---:|---|
${rows.map((r) => `| ${r.name} | ${r.figure.unit} | ${f(r.figure.median)} | ${f(r.figure.min)} | ${f(r.figure.max)} | ${r.reference ?? ''} | ${r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : ''} | ${r.target ?? ''} |`).join('\n')}

Commit throughput (issue 7 asks for import *and* commit) is not measured here yet.
`;
if (!quick) writeFileSync(join(here, 'RESULTS-layers.md'), md);
process.stdout.write(md);
log(`wrote ${file}`);

/**
 * Workload 5: layers (issue 7), and the streaming-import memory bound of issue 3.
 * One seeded tree (200 MiB; quick: 20 MiB), tarred once with GNU tar; a real node started from the
 * built repository. Each run, side by side:
 * - limit: `tar --sort=name -cf - -C tree . | sha256sum` (a shell pipeline), MiB/s of the tar's bytes;
 * - Strata: POST /images/import?tag=bench/layer:N with the tar file streamed as the body, MiB/s, and the
 *   node's peak RSS over its idle RSS during that import (VmHWM after, VmRSS before, from /proc);
 * - peer: `umoci repack` of the same tree copied into a fresh umoci bundle (only repack timed), MiB/s.
 * Then the union view: GET /images/…/content of the 10 MiB file against `cat` of it, and
 * GET /images/…/files?path=/&recursive=true against `tar -tvf` of the same layer tar.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { figure, type Figure } from '../lib/stats.ts';
import { withTempDir } from '../lib/tmp.ts';
import { ensureBuilt, memoryOf, resetPeak, startNode, stopLogged, type StrataNode } from './layers-node.ts';
import { generateTree, type TreeInfo } from './layers-tree.ts';
import { catalogRecords } from '../../libs/layers/src/snapshot/catalog.ts';

const MiB = 2 ** 20;

export interface LayersRow {
  workload: 'layers';
  name: string;
  /** A raw limit (a reference for others), shown as "limit". */
  limit?: boolean;
  reference?: string;
  figure: Figure;
  ratio?: number;
  target?: string;
  note?: string;
  error?: string;
}

export interface LayersInfo {
  treeBytes: number;
  tarBytes: number;
  tree?: TreeInfo;
  build?: string;
  snapshotter?: string;
  /** How the peak was measured: VmHWM reset per run, or the peak since the node started. */
  peakMethod?: string;
  idleRssMiB?: number[];
  layerDigest?: string;
  listedEntries?: number;
  nodeExit?: string;
  /** Uncommitted files under apps/ and libs/ when the node was built (others may be editing them). */
  uncommitted?: string[];
  /** 1-minute load average at the start and the end of the workload. */
  load?: [number, number];
  /** The image the commit runs' containers are created from. */
  commitBase?: string;
}

export interface LayersOptions {
  root: string;
  treeBytes: number;
  runs: number;
  build: 'auto' | 'always' | 'never';
  log: (s: string) => void;
}

/** Runs a shell command line; resolves with its stdout (collected, or only counted) and the wall time. */
function sh(command: string, options: { cwd?: string; count?: boolean; timeoutMs?: number } = {}): Promise<{ ms: number; out: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('sh', ['-c', command], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let bytes = 0;
    child.stdout.on('data', (d: Buffer) => {
      bytes += d.length;
      if (!options.count) out += d;
    });
    child.stderr.on('data', (d: Buffer) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 10 * 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      if (code === 0) resolve({ ms, out, bytes });
      else reject(new Error(`${command.slice(0, 120)}: exit ${code ?? signal}: ${err.trim().slice(-400)}`));
    });
  });
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const mibps = (bytes: number, ms: number) => bytes / MiB / (ms / 1000);

/** The body of a response, counted and dropped. */
async function drain(response: Response): Promise<number> {
  let bytes = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
  return bytes;
}

export async function layersWorkload(o: LayersOptions): Promise<{ rows: LayersRow[]; info: LayersInfo }> {
  const rows: LayersRow[] = [];
  const info: LayersInfo = { treeBytes: o.treeBytes, tarBytes: 0 };
  const failed = (name: string, error: unknown): LayersRow => {
    o.log(`  ${name}: FAILED ${String(error)}`);
    return { workload: 'layers', name, figure: figure('', [NaN]), error: String(error).slice(0, 400) };
  };
  info.load = [+loadavg()[0].toFixed(1), NaN];
  try {
    info.uncommitted = (await sh('git status --porcelain -- apps libs', { cwd: o.root })).out.split('\n').filter(Boolean).map((l) => l.slice(3));
  } catch {
    // not a git checkout
  }
  try {
    info.build = ensureBuilt(o.root, o.log, o.build);
  } catch (error) {
    rows.push(failed('Layers workload (build)', error));
    return { rows, info };
  }
  await withTempDir(async (dir) => {
    const tree = join(dir, 'tree');
    const tarFile = join(dir, 'layer.tar');
    let t0 = performance.now();
    info.tree = generateTree(tree, o.treeBytes);
    await sh(`tar --sort=name -cf ${q(tarFile)} -C ${q(tree)} .`);
    info.tarBytes = statSync(tarFile).size;
    const fileHash = (await sh(`sha256sum ${q(tarFile)}`)).out.split(' ')[0];
    const { files, dirs, symlinks } = info.tree;
    o.log(
      `  setup: tree of ${(info.tree.bytes / MiB).toFixed(0)} MiB (${files} files, ${dirs} dirs, ${symlinks} symlinks), tar ${(info.tarBytes / MiB).toFixed(1)} MiB, in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    let node: StrataNode | undefined;
    try {
      t0 = performance.now();
      node = await startNode(o.root, join(dir, 'data'), join(dir, 'node.log'));
      const status = (await (await node.request('/status')).json()) as { snapshotter?: { name: string } };
      info.snapshotter = status.snapshotter?.name;
      o.log(`  setup: node pid ${node.pid} on ${node.url} (snapshotter ${info.snapshotter}), healthy in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await measureImports(o, node, { dir, tree, tarFile, fileHash }, info, rows, failed);
      await measureUnion(o, node, { tree, tarFile }, info, rows, failed);
    } catch (error) {
      rows.push(failed('Layers workload', error));
    } finally {
      info.nodeExit = await stopLogged(node, o.log);
    }
  });
  info.load[1] = +loadavg()[0].toFixed(1);
  return { rows, info };
}

async function measureImports(
  o: LayersOptions,
  node: StrataNode,
  p: { dir: string; tree: string; tarFile: string; fileHash: string },
  info: LayersInfo,
  rows: LayersRow[],
  failed: (name: string, error: unknown) => LayersRow,
) {
  const bytes = info.tarBytes;
  const names = {
    limit: 'tar -cf - -C tree . | sha256sum',
    strata: 'Strata POST /images/import (tar streamed over HTTP)',
    umoci: 'umoci repack (peer; writes a gzip layer)',
    memory: 'Strata node peak RSS during an import over its RSS just before it',
    memoryFresh: 'Strata node peak RSS during an import over its idle RSS before the first import',
    commit: 'Strata POST /containers/…/commit of the tree written into a container',
    commitMemory: 'Strata node peak RSS during a commit over its RSS just before it',
  };
  const runs = {
    limit: [] as number[],
    strata: [] as number[],
    umoci: [] as number[],
    memory: [] as number[],
    memoryFresh: [] as number[],
    commit: [] as number[],
    commitMemory: [] as number[],
  };
  const errors: Partial<Record<keyof typeof names, unknown>> = {};
  const idle: number[] = [];
  let peakReset = true;
  o.log(`layers: ${(bytes / MiB).toFixed(1)} MiB layer tar, ${o.runs} runs, contenders interleaved in each run`);
  for (let i = 1; i <= o.runs; i++) {
    // limit: the same bytes produced by tar and hashed, in one shell pipeline
    if (!errors.limit)
      try {
        const r = await sh(`tar --sort=name -cf - -C ${q(p.tree)} . | sha256sum`);
        if (r.out.split(' ')[0] !== p.fileHash) throw new Error(`tar | sha256sum gave ${r.out.trim()}, the tar file hashes to ${p.fileHash}: not the same bytes`);
        runs.limit.push(mibps(bytes, r.ms));
      } catch (error) {
        errors.limit = error;
      }
    // Strata: the import, and the node's memory around it
    if (!errors.strata)
      try {
        const before = memoryOf(node.pid);
        if (!resetPeak(node.pid)) peakReset = false;
        // The client is curl (as `curl -T layer.tar` by hand), not this process's fetch: on 2 cores, fetch
        // streaming 200 MiB took a core from the node (~120 vs ~150 MiB/s for the same node, side by side).
        const url = `${node.url}/images/import?${new URLSearchParams({ tag: `bench/layer:${i}` })}`;
        const posted = await sh(
          `curl -sS --fail-with-body -X POST -H ${q(`authorization: Bearer ${node.token}`)} -H 'content-type: application/x-tar' -T ${q(p.tarFile)} ${q(url)}`,
        );
        const reply = JSON.parse(posted.out) as { image: { layers: { digest: string; diffId: string; size: number }[] } };
        const ms = posted.ms;
        const after = memoryOf(node.pid);
        const layer = reply.image.layers[0];
        if (layer.diffId !== `sha256:${p.fileHash}` || layer.size !== bytes) {
          throw new Error(`the imported layer is ${layer.diffId} (${layer.size} bytes), the tar is sha256:${p.fileHash} (${bytes} bytes)`);
        }
        info.layerDigest = layer.digest;
        runs.strata.push(mibps(bytes, ms));
        idle.push(before.rssMiB);
        runs.memory.push(after.hwmMiB - before.rssMiB);
        runs.memoryFresh.push(after.hwmMiB - idle[0]);
      } catch (error) {
        errors.strata = error;
      }
    // Strata commit: a fresh container whose writable layer gets the tree (untimed, as its process
    // would have written it), then only POST /containers/…/commit timed
    if (!errors.commit)
      try {
        const ms = await commitOnce(node, p.tree, i, p.dir, info);
        runs.commit.push(mibps(bytes, ms.ms));
        runs.commitMemory.push(ms.peakOverIdleMiB);
      } catch (error) {
        errors.commit = error;
      }
    // peer: a fresh umoci bundle holding the tree (untimed), then only `umoci repack` timed
    if (!errors.umoci) {
      const u = join(p.dir, `umoci-${i}`);
      try {
        mkdirSync(u);
        await sh(
          `umoci init --layout L && umoci new --image L:x && umoci unpack --image L:x B && cp -a ${q(p.tree)}/. B/rootfs/`,
          { cwd: u },
        );
        const r = await sh('umoci repack --image L:x B', { cwd: u });
        runs.umoci.push(mibps(bytes, r.ms));
      } catch (error) {
        errors.umoci = error;
      } finally {
        rmSync(u, { recursive: true, force: true });
      }
    }
    const last = (a: number[]) => (a.length ? a[a.length - 1].toFixed(0) : '—');
    o.log(
      `  run ${i}: limit ${last(runs.limit)} MiB/s, Strata import ${last(runs.strata)} MiB/s (peak over idle ${last(runs.memory)} MiB), commit ${last(runs.commit)} MiB/s (${last(runs.commitMemory)} MiB), umoci ${last(runs.umoci)} MiB/s`,
    );
  }
  info.idleRssMiB = idle;
  info.peakMethod = peakReset
    ? 'VmHWM reset before each import (clear_refs 5), read after it; idle = VmRSS just before it'
    : 'writing /proc/<pid>/clear_refs failed: VmHWM is the peak since the node started, minus VmRSS before each import';
  const row = (key: keyof typeof names, unit: string): LayersRow | undefined =>
    errors[key] ? failed(names[key], errors[key]) : runs[key].length ? { workload: 'layers', name: names[key], figure: figure(unit, runs[key]) } : undefined;
  const limit = row('limit', 'MiB/s');
  const strata = row('strata', 'MiB/s');
  const umoci = row('umoci', 'MiB/s');
  const memory = row('memory', 'MiB');
  const memoryFresh = row('memoryFresh', 'MiB');
  const commit = row('commit', 'MiB/s');
  const commitMemory = row('commitMemory', 'MiB');
  const ratio = (a?: LayersRow, b?: LayersRow) => (a && b && !a.error && !b.error ? a.figure.median / b.figure.median : undefined);
  if (limit) rows.push(limit);
  if (strata) rows.push({ ...strata, reference: limit?.name, ratio: ratio(strata, limit), target: '≥ 0.7× tar | sha256sum' });
  if (commit) rows.push({ ...commit, reference: limit?.name, ratio: ratio(commit, limit), note: 'records the files as changed, diffs the writable layer, writes the layer tar' });
  if (umoci) rows.push({ ...umoci, reference: limit?.name, ratio: ratio(umoci, limit) });
  if (strata && umoci && !strata.error && !umoci.error)
    rows.push({ workload: 'layers', name: 'Strata import vs umoci repack', reference: umoci.name, figure: strata.figure, ratio: ratio(strata, umoci) });
  if (commit && umoci && !commit.error && !umoci.error)
    rows.push({ workload: 'layers', name: 'Strata commit vs umoci repack', reference: umoci.name, figure: commit.figure, ratio: ratio(commit, umoci) });
  const how = peakReset ? 'VmHWM reset per import' : 'peak since start: clear_refs failed';
  if (limit) limit.limit = true;
  if (memoryFresh && !memoryFresh.error)
    rows.push({ ...memoryFresh, target: '< 150 MiB over idle (issue 3)', note: `idle RSS before the first import ${idle[0].toFixed(0)} MiB; ${how}` });
  if (memory)
    rows.push({
      ...memory,
      target: '< 150 MiB over idle (issue 3)',
      note: `RSS before each import ${idle.map((x) => x.toFixed(0)).join(', ')} MiB; ${how}`,
    });
  if (commitMemory && !commitMemory.error) rows.push({ ...commitMemory, note: how.replace('per import', 'per commit') });
}

/** The base image every commit run's container starts from: one small file, a Cmd (create needs one). */
async function baseImage(node: StrataNode, dir: string): Promise<string> {
  const base = join(dir, 'base');
  mkdirSync(join(base, 'etc'), { recursive: true });
  writeFileSync(join(base, 'etc/motd'), 'strata bench base\n');
  await sh(`tar --sort=name -cf ${q(join(dir, 'base.tar'))} -C ${q(base)} .`);
  await node.request(`/images/import?${new URLSearchParams({ tag: 'bench/base:1' })}`, {
    method: 'POST',
    body: readFileSync(join(dir, 'base.tar')),
    headers: { 'content-type': 'application/x-tar' },
  });
  return 'bench/base:1';
}

/**
 * One commit run: create a container (not started), copy the tree into its writable layer directory
 * — found through the snapshotter's metadata.json, as a process in the container would write it —
 * then time POST /containers/<name>/commit alone. The container is removed afterwards.
 */
async function commitOnce(node: StrataNode, tree: string, i: number, dir: string, info: LayersInfo): Promise<{ ms: number; peakOverIdleMiB: number }> {
  if (!info.commitBase) info.commitBase = await baseImage(node, dir);
  const name = `bench-commit-${i}`;
  const created = (await (
    await node.request('/containers', {
      method: 'POST',
      body: JSON.stringify({ image: info.commitBase, name, cmd: ['/bin/true'] }),
      headers: { 'content-type': 'application/json' },
    })
  ).json()) as { container: { id: string; snapshotter: string } };
  const { id, snapshotter } = created.container;
  const root = join(node.dataDir, 'snapshots', snapshotter);
  const record = (await catalogRecords(root)).get(`container-${id}`);
  if (record?.kind !== 'active') throw new Error(`no active snapshot container-${id} in ${root}/metadata.json + metadata.journal (the snapshotter's layout changed?)`);
  const fs = join(root, 'snapshots', String(record.id), 'fs');
  await sh(`cp -a ${q(tree)}/. ${q(fs)}/`);
  const before = memoryOf(node.pid);
  resetPeak(node.pid);
  const t0 = performance.now();
  const reply = (await (
    await node.request(`/containers/${name}/commit`, {
      method: 'POST',
      body: JSON.stringify({ tag: `bench/commit:${i}` }),
      headers: { 'content-type': 'application/json' },
    })
  ).json()) as { image: { layers: { size: number }[] } };
  const ms = performance.now() - t0;
  const after = memoryOf(node.pid);
  const top = reply.image.layers.at(-1)!;
  if (top.size < info.tarBytes * 0.9) throw new Error(`the committed layer has ${top.size} bytes, the tree's tar ${info.tarBytes}: not the whole tree`);
  await node.request(`/containers/${name}`, { method: 'DELETE' }).catch(() => undefined);
  return { ms, peakOverIdleMiB: after.hwmMiB - before.rssMiB };
}

async function measureUnion(
  o: LayersOptions,
  node: StrataNode,
  p: { tree: string; tarFile: string },
  info: LayersInfo,
  rows: LayersRow[],
  failed: (name: string, error: unknown) => LayersRow,
) {
  const big = info.tree!.bigFile;
  const size = statSync(join(p.tree, big)).size;
  const ref = encodeURIComponent('bench/layer:1');
  o.log(`layers, union view: /${big} (${(size / MiB).toFixed(0)} MiB) and a recursive listing of bench/layer:1, ${o.runs} runs`);
  const names = {
    cat: `cat of the ${(size / MiB).toFixed(0)} MiB file from the tree`,
    content: `Strata GET /images/…/content of the ${(size / MiB).toFixed(0)} MiB file (union view)`,
    tarList: 'tar -tvf of the layer tar (ms)',
    files: 'Strata GET /images/…/files?path=/&recursive=true (ms)',
  };
  const runs = { cat: [] as number[], content: [] as number[], tarList: [] as number[], files: [] as number[] };
  const errors: Partial<Record<keyof typeof names, unknown>> = {};
  const attempt = async (key: keyof typeof names, fn: () => Promise<number>) => {
    if (errors[key]) return;
    try {
      runs[key].push(await fn());
    } catch (error) {
      errors[key] = error;
    }
  };
  let entries = -1;
  for (let i = 0; i < o.runs; i++) {
    await attempt('cat', async () => {
      const r = await sh(`cat ${q(join(p.tree, big))}`, { count: true });
      if (r.bytes !== size) throw new Error(`cat gave ${r.bytes} bytes, expected ${size}`);
      return mibps(size, r.ms);
    });
    await attempt('content', async () => {
      const t0 = performance.now();
      const got = await drain(await node.request(`/images/${ref}/content?${new URLSearchParams({ path: `/${big}` })}`));
      const ms = performance.now() - t0;
      if (got !== size) throw new Error(`the union view gave ${got} bytes, expected ${size}`);
      return mibps(size, ms);
    });
    await attempt('tarList', async () => (await sh(`tar -tvf ${q(p.tarFile)}`, { count: true })).ms);
    await attempt('files', async () => {
      const t0 = performance.now();
      const reply = (await (await node.request(`/images/${ref}/files?path=/&recursive=true`)).json()) as { items: unknown[] };
      const ms = performance.now() - t0;
      if (entries >= 0 && reply.items.length !== entries) throw new Error(`${reply.items.length} entries, then ${entries}`);
      entries = reply.items.length;
      return ms;
    });
  }
  info.listedEntries = entries;
  const row = (key: keyof typeof names, unit: string): LayersRow | undefined =>
    errors[key] ? failed(names[key], errors[key]) : runs[key].length ? { workload: 'layers', name: names[key], figure: figure(unit, runs[key]) } : undefined;
  const cat = row('cat', 'MiB/s');
  const content = row('content', 'MiB/s');
  const tarList = row('tarList', 'ms');
  const files = row('files', 'ms');
  const ratio = (a?: LayersRow, b?: LayersRow) => (a && b && !a.error && !b.error ? a.figure.median / b.figure.median : undefined);
  if (cat) rows.push({ ...cat, limit: true });
  if (content) rows.push({ ...content, reference: cat?.name, ratio: ratio(content, cat) });
  if (tarList) rows.push({ ...tarList, limit: true });
  if (files) rows.push({ ...files, reference: tarList?.name, ratio: ratio(files, tarList), note: `${entries} entries; ratio of times: lower is better` });
  for (const r of [cat, content, tarList, files]) if (r && !r.error) o.log(`  ${r.name}: ${fmt(r.figure)} ${r.figure.unit}`);
}

const num = (x: number) => (!Number.isFinite(x) ? '—' : Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));
const fmt = (f: Figure) => `${num(f.median)} (${num(f.min)}–${num(f.max)})`;

/** The "5. Layers" section of RESULTS.md. */
export function layersSection(rows: LayersRow[], info: LayersInfo | undefined, runs: number, source?: string): string {
  const t = info?.tree;
  const cell = (s: string | undefined) => (s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = rows.map(
    (row) =>
      `| ${cell(row.name)}${row.error ? ` — **failed**: ${cell(row.error)}` : ''}${row.note ? ` (${cell(row.note)})` : ''} | ${num(row.figure.median)} | ${num(row.figure.min)} | ${num(row.figure.max)} | ${row.figure.unit} | ${row.limit ? 'limit' : cell(row.reference)} | ${row.ratio !== undefined && Number.isFinite(row.ratio) ? `${row.ratio.toFixed(2)}×` : ''} | ${cell(row.target)} |`,
  );
  return `## 5. Layers

${source ? `${source}\n\n` : ''}${info ? `A seeded tree of ${((t?.bytes ?? info.treeBytes) / MiB).toFixed(0)} MiB${t ? ` (${t.files} files of 100 B – 10 MiB, ${t.dirs} directories up to 5 deep, ${t.symlinks} symlinks; AES-CTR content, incompressible)` : ''}, tarred once with \`tar --sort=name\` to a ${(info.tarBytes / MiB).toFixed(1)} MiB layer; MiB/s counts that tar's bytes for every contender. A real node (\`node bin/strata.js serve\`, SQLite, ${info.snapshotter ?? '?'} snapshotter; ${info.build ?? 'build: ?'}${info.uncommitted?.length ? `, from the working tree with ${info.uncommitted.length} uncommitted files under apps/ and libs/` : ''}) on 127.0.0.1; ${runs} runs, the contenders interleaved in each (limit, import, commit, umoci). Memory: ${info.peakMethod ?? '—'}. Load average ${info.load?.[0] ?? '?'} at the start, ${info.load?.[1] ?? '?'} at the end (1-minute, this machine: other processes share it).` : ''}

| Figure | median | min | max | unit | reference | ratio | target |
|---|---:|---:|---:|---|---|---:|---|
${lines.join('\n')}
`;
}

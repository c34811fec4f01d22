/**
 * Workload 6: registry (issue 7). `skopeo copy` of an OCI image layout (4 uncompressed layers of random
 * bytes, `imageMiB` in all) into a Strata node's /v2/ and into Debian's `docker-registry` (the CNCF
 * distribution registry: a config binding 127.0.0.1 on a free port, filesystem storage in a temp dir),
 * and `skopeo copy` of the same layout into a second local OCI layout (the limit: the same tool, no
 * network, no registry). Every run pushes a freshly generated image (new random bytes) to a new
 * repository, so neither registry already has a blob and skopeo cannot mount one from an earlier run.
 * Then manifest GET throughput against both (autocannon in its own process, as fast as 16 connections go).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, openSync, closeSync, writeSync, readFileSync, rmSync, writeFileSync, statSync, renameSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { SectionRow } from '../lib/section.ts';
import { figure } from '../lib/stats.ts';
import { withTempDir } from '../lib/tmp.ts';
import { load } from './http.ts';
import { ensureBuilt, freePort, startNode, stopLogged, type StrataNode } from './layers-node.ts';

const MiB = 2 ** 20;

/** A row of this workload: a RESULTS.md section row, tagged with the workload. */
export type RegistryRow = SectionRow & { workload: 'registry' };

export interface RegistryInfo {
  imageBytes: number;
  layers: number;
  build?: string;
  skopeo?: string;
  dockerRegistry?: string;
  load?: [number, number];
  nodeExit?: string;
  manifestDigest?: string;
}

export interface RegistryOptions {
  root: string;
  imageMiB: number;
  runs: number;
  getDurationS: number;
  build: 'auto' | 'always' | 'never';
  log: (s: string) => void;
}

function run(command: string, args: string[], timeoutMs = 10 * 60_000): Promise<{ ms: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out = (out + d).slice(-20000)));
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ ms: performance.now() - t0, out });
      else reject(new Error(`${command} ${args.slice(0, 3).join(' ')}…: exit ${code ?? signal}: ${err.trim().slice(-500)}`));
    });
  });
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A 512-byte tar header (ustar) for one regular file. */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, at: number, len: number) => h.write(s, at, len, 'ascii');
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(`${size.toString(8).padStart(11, '0')}\0`, 124, 12);
  put(`${(1_700_000_000).toString(8).padStart(11, '0')}\0`, 136, 12);
  put('        ', 148, 8);
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

/**
 * An OCI image layout in `dir`: `layers` uncompressed layer tars, each one file of fresh random bytes,
 * `bytes` in all; tagged `bench` (org.opencontainers.image.ref.name). Returns the manifest digest.
 */
export function makeLayout(dir: string, bytes: number, layers: number): string {
  const blobs = join(dir, 'blobs/sha256');
  mkdirSync(blobs, { recursive: true });
  const diffIds: string[] = [];
  const descriptors: { mediaType: string; digest: string; size: number }[] = [];
  const per = Math.floor(bytes / layers);
  for (let l = 0; l < layers; l++) {
    const tmp = join(blobs, `tmp-${l}`);
    const fd = openSync(tmp, 'w');
    const hash = createHash('sha256');
    const write = (b: Buffer) => {
      writeSync(fd, b);
      hash.update(b);
    };
    write(tarHeader(`data/layer-${l}.bin`, per));
    for (let done = 0; done < per; ) {
      const chunk = randomBytes(Math.min(MiB, per - done));
      write(chunk);
      done += chunk.length;
    }
    write(Buffer.alloc((512 - (per % 512)) % 512));
    write(Buffer.alloc(1024));
    closeSync(fd);
    const digest = hash.digest('hex');
    renameSync(tmp, join(blobs, digest));
    diffIds.push(`sha256:${digest}`);
    descriptors.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${digest}`, size: statSync(join(blobs, digest)).size });
  }
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/true'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map(() => ({ created: '2026-11-28T00:00:00Z', created_by: 'strata bench' })),
  });
  writeFileSync(join(blobs, sha256(config)), config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha256(config)}`, size: Buffer.byteLength(config) },
    layers: descriptors,
  });
  writeFileSync(join(blobs, sha256(manifest)), manifest);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${sha256(manifest)}`, size: Buffer.byteLength(manifest), annotations: { 'org.opencontainers.image.ref.name': 'bench' } }],
    }),
  );
  return `sha256:${sha256(manifest)}`;
}

/** Debian's docker-registry on 127.0.0.1:<free port>, storage in `dir`; resolves once /v2/ answers. */
async function startDockerRegistry(dir: string): Promise<{ url: string; host: string; stop(): Promise<void> }> {
  const port = await freePort();
  const config = join(dir, 'config.yml');
  mkdirSync(join(dir, 'storage'), { recursive: true });
  writeFileSync(
    config,
    `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, 'storage')}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
`,
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.once('error', (e) => (err += String(e)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode}: ${err}`);
    try {
      if ((await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) })).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer /v2/ within 20 s: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, host: `127.0.0.1:${port}`, stop };
}

export async function registryWorkload(o: RegistryOptions): Promise<{ rows: RegistryRow[]; info: RegistryInfo }> {
  const rows: RegistryRow[] = [];
  const LAYERS = 4;
  const info: RegistryInfo = { imageBytes: 0, layers: LAYERS, load: [+loadavg()[0].toFixed(1), NaN] };
  const failed = (name: string, error: unknown): RegistryRow => {
    o.log(`  ${name}: FAILED ${String(error)}`);
    return { workload: 'registry', name, figure: figure('MiB/s', [NaN]), error: String(error).slice(0, 400) };
  };
  try {
    info.skopeo = (await run('skopeo', ['--version'])).out.trim();
    info.dockerRegistry = (await run('docker-registry', ['--version'])).out.trim();
    info.build = ensureBuilt(o.root, o.log, o.build);
  } catch (error) {
    rows.push(failed('Registry workload (tools or build)', error));
    return { rows, info };
  }
  await withTempDir(async (dir) => {
    let node: StrataNode | undefined;
    let registry: { url: string; host: string; stop(): Promise<void> } | undefined;
    try {
      node = await startNode(o.root, join(dir, 'data'), join(dir, 'node.log'));
      registry = await startDockerRegistry(join(dir, 'registry'));
      const strataHost = node.url.replace('http://', '');
      o.log(`registry: ${o.imageMiB} MiB image (${LAYERS} layers), ${o.runs} runs, contenders interleaved; Strata ${node.url}, docker-registry ${registry.url}`);
      const names = {
        limit: 'skopeo copy oci: → oci: (local layout to local layout)',
        strata: 'skopeo copy oci: → docker:// Strata /v2/',
        registry: 'skopeo copy oci: → docker:// docker-registry (peer)',
      };
      type Key = keyof typeof names;
      const runs: Record<Key, number[]> = { limit: [], strata: [], registry: [] };
      const errors: Partial<Record<Key, unknown>> = {};
      for (let i = 1; i <= o.runs; i++) {
        const layout = join(dir, `layout-${i}`);
        const copy = join(dir, `copy-${i}`);
        try {
          const manifest = makeLayout(layout, o.imageMiB * MiB, LAYERS);
          if (i === 1) {
            const m = JSON.parse(readFileSync(join(layout, 'blobs/sha256', manifest.slice(7)), 'utf8')) as { layers: { size: number }[] };
            info.imageBytes = m.layers.reduce((n, l) => n + l.size, 0);
          }
          const mibps = (ms: number) => info.imageBytes / MiB / (ms / 1000);
          const attempt = async (key: Key, args: string[]) => {
            if (errors[key]) return;
            try {
              runs[key].push(mibps((await run('skopeo', ['copy', '--quiet', ...args])).ms));
            } catch (error) {
              errors[key] = error;
            }
          };
          await attempt('limit', [`oci:${layout}:bench`, `oci:${copy}:bench`]);
          await attempt('strata', ['--dest-tls-verify=false', '--dest-registry-token', node.token, `oci:${layout}:bench`, `docker://${strataHost}/bench/push${i}:1`]);
          await attempt('registry', ['--dest-tls-verify=false', `oci:${layout}:bench`, `docker://${registry.host}/bench/push${i}:1`]);
          if (i === 1) info.manifestDigest = manifest;
        } finally {
          rmSync(layout, { recursive: true, force: true });
          rmSync(copy, { recursive: true, force: true });
        }
        const last = (k: Key) => (runs[k].length ? runs[k].at(-1)!.toFixed(0) : '—');
        o.log(`  run ${i}: limit ${last('limit')} MiB/s, Strata ${last('strata')} MiB/s, docker-registry ${last('registry')} MiB/s`);
      }
      const row = (key: Key): RegistryRow | undefined =>
        errors[key] ? failed(names[key], errors[key]) : runs[key].length ? { workload: 'registry', name: names[key], figure: figure('MiB/s', runs[key]) } : undefined;
      const ratio = (a?: RegistryRow, b?: RegistryRow) => (a && b && !a.error && !b.error ? a.figure.median / b.figure.median : undefined);
      const limit = row('limit');
      const strata = row('strata');
      const peer = row('registry');
      if (limit) rows.push({ ...limit, limit: true });
      if (peer) rows.push({ ...peer, reference: names.limit, ratio: ratio(peer, limit) });
      if (strata) rows.push({ ...strata, reference: names.limit, ratio: ratio(strata, limit) });
      if (strata && peer && !strata.error && !peer.error)
        rows.push({ workload: 'registry', name: 'Strata push vs docker-registry push', reference: names.registry, figure: strata.figure, ratio: ratio(strata, peer), target: '≥ 0.8× docker-registry' });

      // Manifest GETs of the first pushed image, as fast as 16 connections go.
      const accept = 'application/vnd.oci.image.manifest.v1+json';
      const gets = {
        registry: { name: 'docker-registry GET /v2/…/manifests/1 (peer)', url: `${registry.url}/v2/bench/push1/manifests/1`, headers: { accept } },
        strata: { name: 'Strata GET /v2/…/manifests/1', url: `${node.url}/v2/bench/push1/manifests/1`, headers: { accept, authorization: `Bearer ${node.token}` } },
      };
      const got: Record<'registry' | 'strata', { thr: number[]; p99: number[]; error?: unknown }> = { registry: { thr: [], p99: [] }, strata: { thr: [], p99: [] } };
      if (!errors.strata && !errors.registry) {
        for (let i = 1; i <= o.runs; i++) {
          for (const k of ['registry', 'strata'] as const) {
            if (got[k].error) continue;
            try {
              const r = await load({ url: gets[k].url, method: 'GET', headers: gets[k].headers, connections: 16, durationS: o.getDurationS });
              if (r.non2xx || r.errors) throw new Error(`${r.non2xx} non-2xx, ${r.errors} errors: ${r.firstError ?? ''}`);
              got[k].thr.push(r.throughput);
              got[k].p99.push(r.p99);
            } catch (error) {
              got[k].error = error;
            }
          }
          o.log(`  manifest GETs run ${i}: docker-registry ${got.registry.thr.at(-1)?.toFixed(0) ?? '—'}/s, Strata ${got.strata.thr.at(-1)?.toFixed(0) ?? '—'}/s`);
        }
        const r = got.registry.error ? failed(gets.registry.name, got.registry.error) : { workload: 'registry' as const, name: gets.registry.name, figure: figure('req/s', got.registry.thr), note: `p99 ${figure('ms', got.registry.p99).median} ms` };
        const s = got.strata.error ? failed(gets.strata.name, got.strata.error) : { workload: 'registry' as const, name: gets.strata.name, figure: figure('req/s', got.strata.thr), note: `p99 ${figure('ms', got.strata.p99).median} ms` };
        rows.push({ ...r, limit: true }, { ...s, reference: gets.registry.name, ratio: ratio(s, r) });
      }
    } catch (error) {
      rows.push(failed('Registry workload', error));
    } finally {
      await registry?.stop().catch(() => undefined);
      info.nodeExit = await stopLogged(node, o.log);
    }
  });
  for (const r of rows) if (!r.error) o.log(`  ${r.name}: ${r.figure.median.toFixed(1)} ${r.figure.unit} (${r.figure.min.toFixed(1)}–${r.figure.max.toFixed(1)})${r.ratio ? `, ${r.ratio.toFixed(2)}×` : ''}`);
  info.load![1] = +loadavg()[0].toFixed(1);
  return { rows, info };
}

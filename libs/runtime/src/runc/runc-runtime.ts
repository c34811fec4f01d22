import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { ContainerSpec, ExitStatus, LogLine, ProcessSpec, ReconciledState, Runtime } from '../port.js';
import { cgroupPathOf, runtimeConfig } from './bundle.js';
import { SHIM_SOURCE } from './shim-source.js';

const run = promisify(execFile);
const POLL_MS = 100;
const MEMORY_CGROUP = '/sys/fs/cgroup/memory';

export interface RuncRuntimeOptions {
  /** Where container state lives: `<root>/<id>/{bundle/config.json, shim.json, log.ndjson, exit.json}`. */
  root: string;
  runc?: string;
}

interface RawExit {
  exitCode: number;
  signal: string | null;
  oomKilled: boolean;
  finishedAt: string;
}

/**
 * The Runtime over runc: each container runs under its own shim (shim-source.ts), so it survives the
 * node; this class starts shims and reads their files, and uses runc directly for everything else.
 */
export class RuncRuntime implements Runtime {
  readonly name = 'runc' as const;
  private readonly runc: string;
  private readonly runcRoot: string;
  private closed = false;

  constructor(private readonly options: RuncRuntimeOptions) {
    this.runc = options.runc ?? 'runc';
    this.runcRoot = join(options.root, '.runc');
  }

  private dirOf(id: string): string {
    if (!/^[a-zA-Z0-9_.-]{1,128}$/.test(id)) throw new Error(`invalid container id ${JSON.stringify(id)}`);
    return join(this.options.root, id);
  }

  async available(): Promise<{ ok: true } | { ok: false; reason: string }> {
    try {
      await run(this.runc, ['--version']);
    } catch {
      return { ok: false, reason: 'runc is not installed: apt-get install runc' };
    }
    const uid = process.getuid?.() ?? -1;
    if (uid !== 0) return { ok: false, reason: `runc needs root to create namespaces and cgroups (this node runs as uid ${uid})` };
    return { ok: true };
  }

  async start(spec: ContainerSpec): Promise<{ pid: number }> {
    const dir = this.dirOf(spec.id);
    const bundle = join(dir, 'bundle');
    await mkdir(bundle, { recursive: true });
    await mkdir(this.runcRoot, { recursive: true });
    // A restarted container starts over: the previous run's exit and shim files go, its logs stay.
    await rm(join(dir, 'exit.json'), { force: true });
    await rm(join(dir, 'shim.json'), { force: true });
    await this.runcQuiet(['delete', '--force', spec.id]);
    const parentCgroup = await this.prepareCgroup(spec);
    await writeFile(join(bundle, 'config.json'), JSON.stringify(runtimeConfig(spec, { memoryLimitOnParent: parentCgroup }), null, 2));
    const shim = join(this.options.root, 'shim.mjs');
    if (!existsSync(shim) || (await readFile(shim, 'utf8')) !== SHIM_SOURCE) await writeFile(shim, SHIM_SOURCE);
    const args = { id: spec.id, bundle, stateDir: dir, runcRoot: this.runcRoot, runc: this.runc, cgroup: cgroupPathOf(spec.id) };
    const child = spawn(process.execPath, [shim, JSON.stringify(args)], { detached: true, stdio: 'ignore' });
    child.unref();
    // Up when runc knows a pid for it; failed when the shim already wrote an exit (bad command, no such file…).
    for (let i = 0; i < 200; i++) {
      const state = await this.runcState(spec.id);
      if (state && state.pid > 0 && (state.status === 'running' || state.status === 'paused')) return { pid: state.pid };
      const exit = await this.readExit(spec.id);
      if (exit) {
        const output = (await this.readLog(spec.id)).map((l) => l.line).join('\n').slice(-2000);
        if (exit.exitCode !== 0 && /runc|exec|no such file|permission denied/i.test(output)) {
          throw Object.assign(new Error(`the container did not start: ${output.trim() || `exit code ${exit.exitCode}`}`), { code: 'START_FAILED' });
        }
        return { pid: 0 }; // it started and already ended; wait() reports how
      }
      await sleep(50);
    }
    throw Object.assign(new Error('the container did not start within 10 s'), { code: 'START_FAILED' });
  }

  /**
   * cgroup v1: our own `/strata/<id>` memory cgroup, holding the limit, so the OOM counter outlives
   * runc's cgroup. Elsewhere (cgroup v2) runc sets the limit itself. True when the limit is on ours.
   */
  private async prepareCgroup(spec: ContainerSpec): Promise<boolean> {
    const dir = `${MEMORY_CGROUP}${cgroupPathOf(spec.id)}`;
    if (!existsSync(MEMORY_CGROUP)) return false;
    await mkdir(dir, { recursive: true });
    if (spec.memoryLimitBytes) await writeFile(join(dir, 'memory.limit_in_bytes'), String(spec.memoryLimitBytes));
    return true;
  }

  async kill(id: string, signal: string): Promise<void> {
    await run(this.runc, ['--root', this.runcRoot, 'kill', id, signal.replace(/^SIG/, '')]).catch((error) => {
      if (!/not running|does not exist|container not found/i.test(String(error?.stderr ?? error))) throw error;
    });
  }

  async stop(id: string, timeoutMs: number, signal = 'TERM'): Promise<ExitStatus> {
    await this.kill(id, signal);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const exit = await this.readExit(id);
      if (exit) return this.status(exit, 'killed');
      await sleep(POLL_MS);
    }
    await this.kill(id, 'KILL');
    return this.wait(id);
  }

  async pause(id: string): Promise<void> {
    await run(this.runc, ['--root', this.runcRoot, 'pause', id]);
  }

  async resume(id: string): Promise<void> {
    await run(this.runc, ['--root', this.runcRoot, 'resume', id]);
  }

  /** Polls the shim's exit file. A shim that died without writing one (killed with the node) ends the wait too. */
  async wait(id: string): Promise<ExitStatus> {
    for (let i = 0; !this.closed; i++) {
      const exit = await this.readExit(id);
      if (exit) return this.status(exit, 'completed');
      if (i % 20 === 19 && !(await this.shimAlive(id))) {
        const again = await this.readExit(id);
        if (again) return this.status(again, 'completed');
        const state = await this.runcState(id);
        if (!state || state.status === 'stopped') {
          return { exitCode: 255, signal: null, oomKilled: false, finishedAt: new Date().toISOString(), reason: 'error' };
        }
      }
      await sleep(POLL_MS);
    }
    throw new Error('the runtime is closing');
  }

  async state(id: string): Promise<'running' | 'paused' | 'stopped' | 'unknown'> {
    const state = await this.runcState(id);
    if (!state) return 'unknown';
    return state.status === 'created' ? 'running' : (state.status as 'running' | 'paused' | 'stopped');
  }

  async exec(id: string, proc: ProcessSpec): Promise<{ exitCode: number; stdout: Buffer; stderr: Buffer }> {
    const file = join(this.dirOf(id), `exec-${process.hrtime.bigint()}.json`);
    const caps = runtimeConfig({ id, rootfs: '/', process: proc }).process as Record<string, unknown>;
    await writeFile(file, JSON.stringify(caps));
    try {
      return await new Promise((resolve, reject) => {
        const child = spawn(this.runc, ['--root', this.runcRoot, 'exec', '--process', file, id], { stdio: ['ignore', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (d: Buffer) => out.push(d));
        child.stderr.on('data', (d: Buffer) => err.push(d));
        child.on('error', reject);
        child.on('close', (code, signal) => resolve({ exitCode: code ?? 128 + (signal ? 9 : 0), stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
      });
    } finally {
      await rm(file, { force: true });
    }
  }

  async top(id: string): Promise<{ titles: string[]; processes: string[][] }> {
    const { stdout } = await run(this.runc, ['--root', this.runcRoot, 'ps', '--format', 'json', id]);
    const pids = JSON.parse(stdout || '[]') as number[];
    const processes: string[][] = [];
    for (const pid of pids) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1] ?? '?';
      processes.push([String(pid), uid, cmdline.split('\0').filter(Boolean).join(' ')]);
    }
    return { titles: ['PID', 'UID', 'CMD'], processes };
  }

  async delete(id: string): Promise<void> {
    await this.runcQuiet(['delete', '--force', id]);
  }

  /** Forgets everything of the container, its logs too (on `rm`). */
  async forget(id: string): Promise<void> {
    await this.delete(id);
    await rmdir(`${MEMORY_CGROUP}${cgroupPathOf(id)}`).catch(() => undefined);
    await rm(this.dirOf(id), { recursive: true, force: true });
  }

  async *logs(id: string, options: { since?: string; tail?: number; follow?: boolean; signal?: AbortSignal }): AsyncIterable<LogLine> {
    const file = join(this.dirOf(id), 'log.ndjson');
    const since = options.since ? Date.parse(options.since) : undefined;
    let lines = (await this.readLog(id)).filter((l) => since === undefined || Date.parse(l.time) >= since);
    if (options.tail !== undefined) lines = options.tail === 0 ? [] : lines.slice(-options.tail);
    yield* lines;
    if (!options.follow) return;
    let offset = (await stat(file).catch(() => ({ size: 0 }))).size;
    let partial = '';
    while (!options.signal?.aborted && !this.closed) {
      const size = (await stat(file).catch(() => ({ size: offset }))).size;
      if (size > offset) {
        const handle = await open(file, 'r');
        try {
          const buffer = Buffer.alloc(size - offset);
          await handle.read(buffer, 0, buffer.length, offset);
          offset = size;
          partial += buffer.toString('utf8');
        } finally {
          await handle.close();
        }
        const parts = partial.split('\n');
        partial = parts.pop() ?? '';
        for (const part of parts) if (part) yield toLine(part);
        continue;
      }
      if (await this.readExit(id)) return; // ended and everything read
      await sleep(POLL_MS);
    }
  }

  async reconcile(ids: string[]): Promise<Map<string, ReconciledState>> {
    const out = new Map<string, ReconciledState>();
    for (const id of ids) {
      const exit = await this.readExit(id);
      if (exit) {
        out.set(id, { state: 'exited', status: this.status(exit, 'completed') });
        continue;
      }
      const state = await this.runcState(id);
      if (state && (state.status === 'running' || state.status === 'paused' || state.status === 'created')) {
        out.set(id, { state: state.status === 'paused' ? 'paused' : 'running' });
      } else {
        out.set(id, { state: 'gone' });
      }
    }
    return out;
  }

  /** Stops every wait and follow (the node is shutting down; the containers run on). */
  close(): void {
    this.closed = true;
  }

  private status(exit: RawExit, normal: 'completed' | 'killed'): ExitStatus {
    const reason = exit.oomKilled ? 'oom' : exit.signal ? 'killed' : normal === 'killed' && exit.exitCode > 128 ? 'killed' : 'completed';
    return { ...exit, reason };
  }

  private async readExit(id: string): Promise<RawExit | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dirOf(id), 'exit.json'), 'utf8')) as RawExit;
    } catch {
      return undefined;
    }
  }

  private async readLog(id: string): Promise<LogLine[]> {
    const text = await readFile(join(this.dirOf(id), 'log.ndjson'), 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map(toLine);
  }

  private async shimAlive(id: string): Promise<boolean> {
    try {
      const { shimPid } = JSON.parse(await readFile(join(this.dirOf(id), 'shim.json'), 'utf8')) as { shimPid: number };
      process.kill(shimPid, 0);
      return true;
    } catch {
      return false;
    }
  }

  private async runcState(id: string): Promise<{ status: string; pid: number } | undefined> {
    try {
      const { stdout } = await run(this.runc, ['--root', this.runcRoot, 'state', id]);
      return JSON.parse(stdout) as { status: string; pid: number };
    } catch {
      return undefined;
    }
  }

  private async runcQuiet(args: string[]): Promise<void> {
    await run(this.runc, ['--root', this.runcRoot, ...args]).catch(() => undefined);
  }
}

function toLine(text: string): LogLine {
  const raw = JSON.parse(text) as { t: string; s: 'stdout' | 'stderr'; l: string };
  return { time: raw.t, stream: raw.s, line: raw.l };
}

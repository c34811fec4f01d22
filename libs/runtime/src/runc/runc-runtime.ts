import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogLine, ProcessSpec, ReconciledState, Runtime } from '../port.js';
import { abortableSleep } from './abortable-sleep.js';
import { ociConfig, processConfig, type RuncContainerSpec } from './bundle.js';
import { findRunc, swapAccounting } from './host-checks.js';
import { readLogFile } from './log-reader.js';
import { parseProcessTable } from './process-table.js';
import { RuncCli, runcMessage } from './runc-cli.js';
import { runExec, type ExecIo } from './run-exec.js';
import { RuntimeError } from './runtime-error.js';
import { launchShim } from './shim-launcher.js';
import { readShimFile, shimAlive, SHIM_FILES, type ExitRecord, type ShimRecord } from './shim-files.js';
import { normalizeSignal } from './signals.js';

export type { ExecIo } from './run-exec.js';

export interface RuncRuntimeOptions {
  /** Each container's state lives in `<root>/<id>/` (bundle/, shim.json, log.ndjson, exit.json…). */
  root: string;
  /** The runc binary: a path, or a name looked up on PATH and in the sbin directories. */
  runc?: string;
  /** runc's own state directory (`runc --root`); default `<root>/.runc`. */
  runcRoot?: string;
  /** The cgroup every container's own cgroup is made under: `/<cgroupParent>/<id>`. */
  cgroupParent?: string;
  startTimeoutMs?: number;
}

export type WaitOptions = { timeoutMs?: number; signal?: AbortSignal };
/** The port's ExitStatus and why it is an error when it is one (runc's words for a failed start, a lost shim). */
export type RuncExitStatus = ExitRecord;

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** How often a wait asks whether the shim is still alive (it cannot tell us it died). */
const LIVENESS_EVERY_MS = 1000;
/** After SIGKILL, how long to wait for the exit before giving up: only a wedged kernel takes this long. */
const AFTER_KILL_MS = 30_000;

/**
 * The Runtime over runc, like containerd's task service: every container runs under its own shim
 * (shim.mjs) that outlives the node; this class starts shims, reads their files (shim-files.ts), and
 * asks runc directly for everything else (state, kill, pause, exec, ps). It holds no state of its
 * own, so a new instance (a restarted node) sees what the last one left running.
 */
export class RuncRuntime implements Runtime {
  readonly name = 'runc' as const;
  private readonly closing = new AbortController();
  private cli: RuncCli | undefined;

  constructor(private readonly options: RuncRuntimeOptions) {}

  async available(): Promise<{ ok: true } | { ok: false; reason: string }> {
    const binary = findRunc(this.options.runc);
    const uid = process.getuid?.() ?? -1;
    const reasons: string[] = [];
    if (!binary) reasons.push(`runc not found${this.options.runc ? ` at ${this.options.runc}` : ''}: apt-get install runc`);
    else {
      const version = await new RuncCli(binary, this.runcRoot).run(['--version'], 10_000).catch((e: Error) => ({ code: -1, stderr: e.message, stdout: '' }));
      if (version.code !== 0) reasons.push(`runc at ${binary} does not run: ${version.stderr.trim()}`);
    }
    if (uid !== 0) reasons.push(`runc needs root to make namespaces and cgroups (uid ${uid})`);
    return reasons.length === 0 ? { ok: true } : { ok: false, reason: reasons.join('; ') };
  }

  async start(spec: RuncContainerSpec): Promise<{ pid: number; startedAt: string }> {
    const dir = this.dirOf(spec.id);
    const runc = await this.runc();
    const previous = await runc.state(spec.id);
    if ((previous && previous.status !== 'stopped') || (await shimAlive(await readShimFile<ShimRecord>(dir, SHIM_FILES.shim)))) {
      throw new RuntimeError('ALREADY_RUNNING', `container ${spec.id} is already running`);
    }
    if (previous) await runc.deleteForce(spec.id); // ended without its shim: runc still holds its state
    const bundle = join(dir, SHIM_FILES.bundle);
    await mkdir(bundle, { recursive: true });
    // A restart starts over; only the log carries on (Docker keeps a container's logs across restarts).
    for (const name of [SHIM_FILES.shim, SHIM_FILES.exit, SHIM_FILES.containerPid, SHIM_FILES.runcLog]) await rm(join(dir, name), { force: true });
    const config = ociConfig(spec, { cgroupsPath: `/${this.options.cgroupParent ?? 'strata'}/${spec.id}`, swapAccounting: swapAccounting() });
    await writeFile(join(bundle, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    const shim = await launchShim({ id: spec.id, stateDir: dir, bundle, runc: runc.binary, runcRoot: runc.root });
    return this.awaitStart(spec.id, dir, shim.exited);
  }

  /** Up when the shim has written the container's pid; failed when it wrote an exit without one. */
  private async awaitStart(id: string, dir: string, shimExited: () => boolean): Promise<{ pid: number; startedAt: string }> {
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 15_000);
    for (let delay = 5; Date.now() < deadline; delay = Math.min(delay * 2, 100)) {
      const started = await this.startedIn(dir);
      if (started) return started;
      const exit = await readShimFile<ExitRecord>(dir, SHIM_FILES.exit);
      const exited = shimExited();
      if (exit || exited) {
        const late = await this.startedIn(dir); // it started, and ended before we looked
        if (late) return late;
        const why = exit?.error ?? `its shim ended without a word: ${(await readFile(join(dir, SHIM_FILES.shimLog), 'utf8').catch(() => '')).trim().slice(-1000)}`;
        throw new RuntimeError('START_FAILED', `the container did not start: ${why}`);
      }
      await abortableSleep(delay);
    }
    await (await this.runc()).deleteForce(id).catch(() => undefined); // the shim sees runc end and writes an exit
    throw new RuntimeError('START_TIMEOUT', `container ${id} did not start within ${this.options.startTimeoutMs ?? 15_000} ms`);
  }

  private async startedIn(dir: string): Promise<{ pid: number; startedAt: string } | undefined> {
    const record = await readShimFile<ShimRecord>(dir, SHIM_FILES.shim);
    return record?.containerPid && record.startedAt ? { pid: record.containerPid, startedAt: record.startedAt } : undefined;
  }

  async kill(id: string, signal: string): Promise<void> {
    const name = normalizeSignal(signal);
    this.dirOf(id);
    await this.mustBeUp(id);
    await (await this.runc()).must(['kill', id, name]);
  }

  /** The stop signal (TERM), then KILL once the timeout passes. A paused container is resumed first: a frozen process cannot act on TERM. */
  async stop(id: string, timeoutMs: number, signal = 'TERM'): Promise<RuncExitStatus> {
    const state = await this.state(id);
    if (state === 'stopped' || state === 'unknown') {
      const exit = await readShimFile<ExitRecord>(this.dirOf(id), SHIM_FILES.exit);
      if (exit) return exit;
      throw new RuntimeError('NOT_RUNNING', `container ${id} is not running`);
    }
    if (state === 'paused') await this.resume(id);
    await this.kill(id, signal).catch(ignoreNotRunning);
    const polite = await this.waitExit(id, { timeoutMs });
    if (polite) return polite;
    await this.kill(id, 'KILL').catch(ignoreNotRunning);
    return this.wait(id, { timeoutMs: AFTER_KILL_MS });
  }

  async pause(id: string): Promise<void> {
    this.dirOf(id);
    await this.mustBeUp(id);
    await (await this.runc()).must(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    this.dirOf(id);
    await this.mustBeUp(id);
    await (await this.runc()).must(['resume', id]);
  }

  /** Resolves with the exit, also of a container an earlier node started; rejects (ABORTED) on timeout, abort or close(). */
  async wait(id: string, options: WaitOptions = {}): Promise<RuncExitStatus> {
    const exit = await this.waitExit(id, options);
    if (exit) return exit;
    throw new RuntimeError('ABORTED', `stopped waiting for container ${id}`);
  }

  /** The exit, or undefined when the time is up or the wait was called off. */
  private async waitExit(id: string, options: WaitOptions): Promise<RuncExitStatus | undefined> {
    const dir = this.dirOf(id);
    if (!(await readShimFile(dir, SHIM_FILES.shim)) && !(await readShimFile(dir, SHIM_FILES.exit))) {
      throw new RuntimeError('NOT_FOUND', `container ${id} was never started here`);
    }
    const signal = AbortSignal.any([this.closing.signal, ...(options.signal ? [options.signal] : [])]);
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    let checkedLiveness = Date.now();
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      const exit = await readShimFile<ExitRecord>(dir, SHIM_FILES.exit);
      if (exit) return exit;
      if (Date.now() - checkedLiveness >= LIVENESS_EVERY_MS) {
        checkedLiveness = Date.now();
        const lost = await this.lostExit(id, dir);
        if (lost) return lost;
      }
      const left = deadline - Date.now();
      if (left <= 0 || !(await abortableSleep(Math.min(delay, left), signal))) return undefined;
    }
  }

  /**
   * A shim that died (SIGKILLed, a reboot) writes no exit. Once the container is gone as well, its
   * exit status is lost for good: say so rather than wait forever. While the container still runs,
   * nothing is lost yet (it is running, only unsupervised).
   */
  private async lostExit(id: string, dir: string): Promise<RuncExitStatus | undefined> {
    if (await shimAlive(await readShimFile<ShimRecord>(dir, SHIM_FILES.shim))) return undefined;
    const exit = await readShimFile<ExitRecord>(dir, SHIM_FILES.exit);
    if (exit) return exit; // it wrote one just before it ended
    const state = await (await this.runc()).state(id);
    if (state && state.status !== 'stopped') return undefined;
    return { exitCode: 255, signal: null, oomKilled: false, finishedAt: new Date().toISOString(), reason: 'error', error: 'the shim died: the exit status is lost' };
  }

  async state(id: string): Promise<'running' | 'paused' | 'stopped' | 'unknown'> {
    const dir = this.dirOf(id);
    const state = await (await this.runc()).state(id);
    if (state?.status === 'paused' || state?.status === 'pausing') return 'paused';
    if (state?.status === 'running' || state?.status === 'created') return 'running';
    if (state?.status === 'stopped' || (await readShimFile(dir, SHIM_FILES.exit))) return 'stopped';
    return 'unknown';
  }

  /** A second process in the running container, with the container's capabilities and limits (runc exec --process). */
  async exec(id: string, proc: ProcessSpec, io: ExecIo = {}): Promise<{ exitCode: number; stdout: Buffer; stderr: Buffer }> {
    const dir = this.dirOf(id);
    const state = await this.state(id);
    if (state !== 'running') throw new RuntimeError('NOT_RUNNING', `container ${id} is ${state === 'paused' ? 'paused: resume it first' : 'not running'}`);
    const runc = await this.runc();
    const name = `exec-${randomUUID()}`;
    const processFile = join(dir, `${name}.json`);
    const pidFile = join(dir, `${name}.pid`);
    await writeFile(processFile, JSON.stringify(processConfig(proc)));
    try {
      const result = await runExec(runc.binary, ['--root', runc.root, 'exec', '--process', processFile, '--pid-file', pidFile, id], io, pidFile, this.closing.signal);
      // runc writes the pid file only once the process exists: without one, runc failed, not the program.
      if (!existsSync(pidFile)) throw new RuntimeError('EXEC_FAILED', `exec in container ${id} failed: ${runcMessage(result.stderr.toString('utf8'))}`);
      return result;
    } finally {
      await rm(processFile, { force: true });
      await rm(pidFile, { force: true });
    }
  }

  async top(id: string): Promise<{ titles: string[]; processes: string[][] }> {
    this.dirOf(id);
    await this.mustBeUp(id);
    return parseProcessTable(await (await this.runc()).must(['ps', id]));
  }

  /** Forgets a container's runtime state, killing it first if it runs (like `rm --force`); its logs stay. */
  async delete(id: string): Promise<void> {
    const dir = this.dirOf(id);
    const runc = await this.runc();
    const state = await runc.state(id);
    if (state && state.status !== 'stopped') {
      if (state.status === 'paused') await runc.must(['resume', id]).catch(() => undefined); // a frozen process would hold its KILL
      await runc.must(['kill', id, 'KILL']).catch(ignoreNotRunning);
      await this.waitExit(id, { timeoutMs: 10_000 }).catch(() => undefined);
    }
    await runc.deleteForce(id);
    // A shim still finishing (deleting, writing its exit) would write into what we remove: let it end.
    for (let i = 0; i < 100 && (await shimAlive(await readShimFile<ShimRecord>(dir, SHIM_FILES.shim))); i++) await abortableSleep(50);
    const execFiles = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.startsWith('exec-'));
    for (const name of [SHIM_FILES.shim, SHIM_FILES.exit, SHIM_FILES.containerPid, SHIM_FILES.runcLog, SHIM_FILES.shimLog, SHIM_FILES.bundle, ...execFiles]) {
      await rm(join(dir, name), { recursive: true, force: true });
    }
  }

  /** Forgets everything of a container, its logs and its state directory too (`rm`). */
  async forget(id: string): Promise<void> {
    await this.delete(id);
    await rm(this.dirOf(id), { recursive: true, force: true });
  }

  /** Ends every wait and follow (the node is going down); the containers and their shims run on. */
  close(): void {
    this.closing.abort();
  }

  async *logs(id: string, options: { since?: string; tail?: number; follow?: boolean; signal?: AbortSignal }): AsyncIterable<LogLine> {
    const dir = this.dirOf(id);
    const signal = AbortSignal.any([this.closing.signal, ...(options.signal ? [options.signal] : [])]);
    // Following ends with the run: its exit is written, or its shim is gone and so is the container.
    const ended = async () => (await readShimFile(dir, SHIM_FILES.exit)) !== undefined || (await this.lostExit(id, dir)) !== undefined;
    yield* readLogFile(join(dir, SHIM_FILES.log), { ...options, signal, ended });
  }

  /**
   * After a node restart, for each container: still running (or paused) under runc; exited, with the
   * status its shim wrote; or gone (no exit written and nothing runs: the shim died with it, or the
   * machine rebooted), in which case runc's leftovers are cleaned up.
   */
  async reconcile(ids: string[]): Promise<Map<string, ReconciledState>> {
    const runc = await this.runc();
    const found = new Map<string, ReconciledState>();
    for (const id of ids) {
      const dir = this.dirOf(id);
      let exit = await readShimFile<ExitRecord>(dir, SHIM_FILES.exit);
      const state = exit ? null : await runc.state(id);
      if (!exit && state && state.status !== 'stopped') {
        found.set(id, { state: state.status === 'paused' || state.status === 'pausing' ? 'paused' : 'running' });
        continue;
      }
      // A living shim is between its container's end and its exit file: give it a moment.
      if (!exit && (await shimAlive(await readShimFile<ShimRecord>(dir, SHIM_FILES.shim)))) exit = await this.waitExit(id, { timeoutMs: 5000 }).catch(() => undefined);
      if (exit) found.set(id, { state: 'exited', status: exit });
      else {
        if (state) await runc.deleteForce(id).catch(() => undefined);
        found.set(id, { state: 'gone' });
      }
    }
    return found;
  }

  private get runcRoot(): string {
    return this.options.runcRoot ?? join(this.options.root, '.runc');
  }

  private async runc(): Promise<RuncCli> {
    if (this.cli) return this.cli;
    const available = await this.available();
    if (!available.ok) throw new RuntimeError('UNAVAILABLE', `cannot run containers: ${available.reason}`);
    await mkdir(this.runcRoot, { recursive: true });
    this.cli = new RuncCli(findRunc(this.options.runc)!, this.runcRoot);
    return this.cli;
  }

  private async mustBeUp(id: string): Promise<void> {
    const state = await (await this.runc()).state(id);
    if (!state || state.status === 'stopped') throw new RuntimeError('NOT_RUNNING', `container ${id} is not running`);
  }

  /** A container's state directory; the id is checked first, since it becomes a path and a runc argument. */
  private dirOf(id: string): string {
    if (!ID.test(id)) throw new RuntimeError('INVALID_ID', `invalid container id ${JSON.stringify(id)}: letters, digits, "_", "." and "-", at most 128`);
    return join(this.options.root, id);
  }
}

function ignoreNotRunning(error: unknown): void {
  if (error instanceof RuntimeError && (error.code === 'NOT_RUNNING' || /not running|does not exist|stopped/i.test(error.message))) return;
  throw error;
}

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBusyboxRootfs } from '../../../layers/src/testing/busybox-rootfs.js';
import type { LogLine, ProcessSpec } from '../port.js';
import type { RuncContainerSpec } from '../runc/bundle.js';
import { RuncRuntime, type RuncRuntimeOptions } from '../runc/runc-runtime.js';
import type { ShimRecord } from '../runc/shim-files.js';

/**
 * Real runc over a busybox rootfs, for the runtime's tests: its own state root, runc root and cgroup
 * parent, so nothing touches a running node's containers. `ready()` fails (never skips) when this
 * machine cannot run containers, naming what is missing.
 */
export class RuncFixture {
  readonly dir = mkdtempSync(join(tmpdir(), 'strata-runc-'));
  readonly rootfs = join(this.dir, 'rootfs');
  readonly cgroupParent = `strata-test-${randomBytes(4).toString('hex')}`;
  private readonly ids: string[] = [];

  readonly options: RuncRuntimeOptions = { root: join(this.dir, 'state'), runcRoot: join(this.dir, 'runc'), cgroupParent: this.cgroupParent, startTimeoutMs: 10_000 };

  /** A runtime over this fixture's state: call it again for "a restarted node". */
  runtime(): RuncRuntime {
    return new RuncRuntime(this.options);
  }

  async ready(): Promise<void> {
    const available = await this.runtime().available();
    if (!available.ok) throw new Error(`the runc runtime tests need runc and root here: ${available.reason}`);
    await makeBusyboxRootfs(this.rootfs);
    for (const d of ['proc', 'sys', 'dev']) mkdirSync(join(this.rootfs, d), { recursive: true });
  }

  process(args: string[], extra: Partial<ProcessSpec> = {}): ProcessSpec {
    return { args, env: ['PATH=/bin', 'HOME=/root'], cwd: '/', user: { uid: 0, gid: 0 }, ...extra };
  }

  /** A spec with a fresh id, remembered for cleanup. */
  spec(args: string[], extra: Partial<RuncContainerSpec> = {}): RuncContainerSpec {
    const id = `t-${randomBytes(6).toString('hex')}`;
    this.ids.push(id);
    return { id, rootfs: this.rootfs, process: this.process(args), ...extra };
  }

  stateDir(id: string): string {
    return join(this.dir, 'state', id);
  }

  shimRecord(id: string): ShimRecord {
    return JSON.parse(readFileSync(join(this.stateDir(id), 'shim.json'), 'utf8')) as ShimRecord;
  }

  /** Every container of the test: killed and forgotten by runc, its shim gone (by its pid). */
  async cleanupContainers(): Promise<void> {
    const runtime = this.runtime();
    for (const id of this.ids.splice(0)) {
      let shimPid: number | undefined;
      try {
        shimPid = this.shimRecord(id).shim.pid;
      } catch {
        // never started
      }
      await runtime.forget(id).catch(() => undefined);
      try {
        if (shimPid) process.kill(shimPid, 'SIGKILL'); // forget waits for the shim to end: this only catches a bug
      } catch {
        // gone already, as it should be
      }
    }
    runtime.close();
  }

  /** The temp directory and the empty cgroup parents runc left behind. */
  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
    for (const controller of readdirSafe('/sys/fs/cgroup')) {
      try {
        rmdirSync(join('/sys/fs/cgroup', controller, this.cgroupParent));
      } catch {
        // not made in this hierarchy
      }
    }
  }
}

export async function collect(lines: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

/** Polls until check() is true, failing after timeoutMs with what was awaited. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

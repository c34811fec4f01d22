import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxRootfs } from '../../../layers/src/testing/busybox-rootfs.js';
import type { ContainerSpec, LogLine } from '../port.js';
import { RuncRuntime } from './runc-runtime.js';

/**
 * The runc runtime for real: busybox processes under runc, supervised by the shim. Needs root and
 * runc (scripts/ensure-system-deps.sh installs runc and busybox-static); fails saying so otherwise.
 */
describe('RuncRuntime', () => {
  let dir: string;
  let rootfs: string;
  let runtime: RuncRuntime;
  const started: string[] = [];
  const spec = (args: string[], extra: Partial<ContainerSpec> = {}): ContainerSpec => {
    const id = `t${randomBytes(6).toString('hex')}`;
    started.push(id);
    return { id, rootfs, process: { args, env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } }, ...extra };
  };
  const collect = async (lines: AsyncIterable<LogLine>) => {
    const out: LogLine[] = [];
    for await (const line of lines) out.push(line);
    return out;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-runc-'));
    rootfs = join(dir, 'rootfs');
    await makeBusyboxRootfs(rootfs);
    for (const d of ['proc', 'sys', 'dev']) (await import('node:fs')).mkdirSync(join(rootfs, d), { recursive: true });
    runtime = new RuncRuntime({ root: join(dir, 'state') });
    const available = await runtime.available();
    if (!available.ok) throw new Error(`runc tests cannot run here: ${available.reason}`);
  });
  afterAll(async () => {
    for (const id of started) {
      await runtime.kill(id, 'KILL').catch(() => undefined);
      await runtime.forget(id).catch(() => undefined);
    }
    runtime?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a process to its exit code and keeps both streams with timestamps', async () => {
    const s = spec(['sh', '-c', 'echo hello; echo oops >&2; exit 3']);
    await runtime.start(s);
    const exit = await runtime.wait(s.id);
    expect(exit).toMatchObject({ exitCode: 3, signal: null, oomKilled: false, reason: 'completed' });
    const lines = await collect(runtime.logs(s.id, {}));
    // Two pipes: each stream keeps its order; between them the order is whatever the kernel delivered.
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['hello']);
    expect(lines.filter((l) => l.stream === 'stderr').map((l) => l.line)).toEqual(['oops']);
    expect(Date.parse(lines[0]!.time)).toBeGreaterThan(0);
    expect(await collect(runtime.logs(s.id, { tail: 1 }))).toEqual([lines[1]]);
  });

  it('stops with SIGTERM, and kills with SIGKILL after the timeout a process that ignores TERM', async () => {
    // PID 1 of a container has no default signal handlers (why Docker has --init): it must trap TERM.
    const polite = spec(['sh', '-c', 'trap "exit 143" TERM; while true; do sleep 0.1; done']);
    await runtime.start(polite);
    const t1 = Date.now();
    expect(await runtime.stop(polite.id, 5000)).toMatchObject({ exitCode: 143 });
    expect(Date.now() - t1).toBeLessThan(4000);
    const stubborn = spec(['sh', '-c', 'trap "" TERM; while true; do sleep 1; done']);
    await runtime.start(stubborn);
    const t0 = Date.now();
    expect(await runtime.stop(stubborn.id, 500)).toMatchObject({ exitCode: 137, signal: 'SIGKILL', reason: 'killed' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
  });

  it('pauses and resumes, runs a second process with exec, and lists processes with top', async () => {
    const s = spec(['sleep', '100']);
    await runtime.start(s);
    await runtime.pause(s.id);
    expect(await runtime.state(s.id)).toBe('paused');
    await runtime.resume(s.id);
    expect(await runtime.state(s.id)).toBe('running');
    const exec = await runtime.exec(s.id, { args: ['sh', '-c', 'echo hi; exit 4'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } });
    expect({ code: exec.exitCode, out: exec.stdout.toString() }).toEqual({ code: 4, out: 'hi\n' });
    const top = await runtime.top(s.id);
    expect(top.processes.some((p) => p[2] === 'sleep 100')).toBe(true);
    await runtime.kill(s.id, 'KILL');
    expect(await runtime.wait(s.id)).toMatchObject({ exitCode: 137, reason: 'killed' });
  });

  it('records an OOM kill when the process outgrows its memory limit', async () => {
    const s = spec(['sh', '-c', 'x=aaaaaaaaaaaaaaaa; while true; do x="$x$x"; done'], { memoryLimitBytes: 16 * 1024 * 1024 });
    await runtime.start(s);
    const exit = await runtime.wait(s.id);
    expect(exit).toMatchObject({ exitCode: 137, oomKilled: true, reason: 'oom' });
  });

  it('a new runtime (a restarted node) re-attaches to a running container and still sees its exit', async () => {
    const s = spec(['sh', '-c', 'sleep 1; echo late; exit 7']);
    await runtime.start(s);
    const again = new RuncRuntime({ root: join(dir, 'state') });
    const found = await again.reconcile([s.id, 'tnever']);
    expect(found.get(s.id)).toEqual({ state: 'running' });
    expect(found.get('tnever')).toEqual({ state: 'gone' });
    expect(await again.wait(s.id)).toMatchObject({ exitCode: 7, reason: 'completed' });
    expect((await again.reconcile([s.id])).get(s.id)).toMatchObject({ state: 'exited', status: { exitCode: 7 } });
    again.close();
  });

  it('follows logs until the process ends', async () => {
    const s = spec(['sh', '-c', 'for i in 1 2 3; do echo $i; sleep 0.2; done']);
    await runtime.start(s);
    const lines = await collect(runtime.logs(s.id, { follow: true }));
    expect(lines.map((l) => l.line)).toEqual(['1', '2', '3']);
  });
});

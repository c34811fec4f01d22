import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collect, RuncFixture } from '../testing/runc-fixture.js';
import { RuntimeError } from './runtime-error.js';

/** The runtime for real: busybox under runc, each container under its own detached shim. Needs root and runc. */
describe('RuncRuntime (runc + shim)', () => {
  const fx = new RuncFixture();
  const runtime = fx.runtime();
  beforeAll(() => fx.ready());
  afterEach(() => fx.cleanupContainers());
  afterAll(() => {
    runtime.close();
    fx.dispose();
  });

  it('runs a process to its exit code, with both streams in the log, in order, with timestamps', async () => {
    // Order holds within a stream; across the two it holds for output apart in time (runc copies each
    // stream in its own goroutine, so two writes a microsecond apart may swap, as in Docker).
    const s = fx.spec(['sh', '-c', 'echo hello; sleep 0.1; echo oops >&2; exit 3']);
    const started = await runtime.start(s);
    expect(started.pid).toBeGreaterThan(0);
    expect(Date.parse(started.startedAt)).not.toBeNaN();
    const exit = await runtime.wait(s.id, { timeoutMs: 10_000 });
    expect(exit).toMatchObject({ exitCode: 3, signal: null, oomKilled: false, reason: 'completed', error: null });
    expect(Date.parse(exit.finishedAt)).toBeGreaterThanOrEqual(Date.parse(started.startedAt));
    const lines = await collect(runtime.logs(s.id, {}));
    expect(lines.map((l) => [l.stream, l.line])).toEqual([['stdout', 'hello'], ['stderr', 'oops']]);
    for (const l of lines) expect(l.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(await runtime.state(s.id)).toBe('stopped');
  });

  it('refuses to start a missing command, in runc’s words, with nothing in the container’s log', async () => {
    const s = fx.spec(['/bin/nonexistent']);
    const error = await runtime.start(s).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error).toMatchObject({ code: 'START_FAILED' });
    expect((error as Error).message).toMatch(/the container did not start: .*nonexistent.*no such file or directory/);
    expect(await runtime.wait(s.id, { timeoutMs: 5000 })).toMatchObject({ exitCode: 127, reason: 'error' });
    expect(await collect(runtime.logs(s.id, {}))).toEqual([]);
  });

  it('stop: a process that traps TERM ends at once; one that ignores it is killed with KILL after the timeout', async () => {
    const polite = fx.spec(['sh', '-c', 'trap "echo bye; exit 0" TERM; sleep 100 & wait']);
    await runtime.start(polite);
    const t0 = Date.now();
    expect(await runtime.stop(polite.id, 5000)).toMatchObject({ exitCode: 0, reason: 'completed' });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect((await collect(runtime.logs(polite.id, {}))).map((l) => l.line)).toEqual(['bye']);

    const stubborn = fx.spec(['sh', '-c', 'trap "" TERM; sleep 100']);
    await runtime.start(stubborn);
    const t1 = Date.now();
    expect(await runtime.stop(stubborn.id, 700)).toMatchObject({ exitCode: 137, signal: 'SIGKILL', reason: 'killed', oomKilled: false });
    expect(Date.now() - t1).toBeGreaterThanOrEqual(700);
  });

  it('stop: sleep as PID 1 has no TERM handler, so (as in Docker without --init) only the KILL after the timeout ends it', async () => {
    const s = fx.spec(['sleep', '100']);
    await runtime.start(s);
    const t0 = Date.now();
    expect(await runtime.stop(s.id, 500)).toMatchObject({ exitCode: 137, signal: 'SIGKILL', reason: 'killed' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
  });

  it('kill sends the signal asked for', async () => {
    const hup = fx.spec(['sh', '-c', 'trap "exit 7" HUP; sleep 100 & wait']);
    await runtime.start(hup);
    await runtime.kill(hup.id, 'HUP');
    expect(await runtime.wait(hup.id, { timeoutMs: 5000 })).toMatchObject({ exitCode: 7, reason: 'completed' });
    const s = fx.spec(['sleep', '100']);
    await runtime.start(s);
    await runtime.kill(s.id, 'SIGKILL');
    expect(await runtime.wait(s.id, { timeoutMs: 5000 })).toMatchObject({ exitCode: 137, signal: 'SIGKILL', reason: 'killed' });
    await expect(runtime.kill(s.id, 'KILL')).rejects.toMatchObject({ code: 'NOT_RUNNING' });
    await expect(runtime.kill(s.id, 'NOPE')).rejects.toMatchObject({ code: 'INVALID_SIGNAL' });
  });

  it('pauses and resumes (cgroup freezer)', async () => {
    const s = fx.spec(['sleep', '100']);
    await runtime.start(s);
    await runtime.pause(s.id);
    expect(await runtime.state(s.id)).toBe('paused');
    await expect(runtime.exec(s.id, fx.process(['true']))).rejects.toMatchObject({ code: 'NOT_RUNNING' });
    await runtime.resume(s.id);
    expect(await runtime.state(s.id)).toBe('running');
  });

  it('exec runs a second process in the running container; a missing command is runc’s error, not an exit code', async () => {
    const s = fx.spec(['sleep', '100']);
    await runtime.start(s);
    const hi = await runtime.exec(s.id, fx.process(['echo', 'hi']));
    expect({ code: hi.exitCode, out: hi.stdout.toString(), err: hi.stderr.toString() }).toEqual({ code: 0, out: 'hi\n', err: '' });
    const code = await runtime.exec(s.id, fx.process(['sh', '-c', 'cat; echo err >&2; exit 4']), { stdin: 'in\n' });
    expect({ code: code.exitCode, out: code.stdout.toString(), err: code.stderr.toString() }).toEqual({ code: 4, out: 'in\n', err: 'err\n' });
    await expect(runtime.exec(s.id, fx.process(['nonexistent']))).rejects.toMatchObject({ code: 'EXEC_FAILED', message: expect.stringMatching(/not found/) });
    await expect(runtime.exec(s.id, fx.process(['sleep', '100']), { timeoutMs: 300 })).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('top lists the container’s processes', async () => {
    const s = fx.spec(['sh', '-c', 'sleep 100 & sleep 200']);
    await runtime.start(s);
    const top = await runtime.top(s.id);
    expect(top.titles).toEqual(expect.arrayContaining(['PID', 'CMD']));
    const cmd = top.titles.indexOf('CMD');
    expect(top.processes.map((p) => p[cmd]).sort()).toEqual(['sleep 100', 'sleep 200']);
  });

  it('records an OOM kill when the process outgrows its memory limit', async () => {
    const s = fx.spec(['sh', '-c', 'x=0123456789abcdef; while true; do x="$x$x"; done'], { memoryLimitBytes: 8 * 1024 * 1024 });
    await runtime.start(s);
    expect(await runtime.wait(s.id, { timeoutMs: 20_000 })).toMatchObject({ exitCode: 137, signal: 'SIGKILL', oomKilled: true, reason: 'oom' });
  });

  it('applies a read-only rootfs, the pids limit and the hostname', async () => {
    const script = 'cat /proc/sys/kernel/hostname; touch /x 2>/dev/null || echo read-only; i=0; while test $i -lt 20; do sleep 5 & i=$((i+1)); done; echo all forked';
    const s = fx.spec(['sh', '-c', script], { readonlyRootfs: true, pidsLimit: 8, hostname: 'box' });
    await runtime.start(s);
    // busybox sh gives up (exit 2) when it cannot fork: the 8 pids ran out before the 20 sleeps
    expect(await runtime.wait(s.id, { timeoutMs: 10_000 })).toMatchObject({ exitCode: 2, reason: 'completed' });
    const lines = await collect(runtime.logs(s.id, {}));
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['box', 'read-only']);
    expect(lines.filter((l) => l.stream === 'stderr').map((l) => l.line)).toEqual(["sh: can't fork: Resource temporarily unavailable"]);
  });

  it('refuses ids that are not runc ids, before any path or runc sees them', async () => {
    await expect(runtime.state('../etc')).rejects.toMatchObject({ code: 'INVALID_ID' });
    await expect(runtime.wait('never-started', { timeoutMs: 100 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collect, RuncFixture, until } from '../testing/runc-fixture.js';
import type { RuncContainerSpec } from './bundle.js';

const NODE_SCRIPT = fileURLToPath(new URL('../testing/node-that-starts-a-container.ts', import.meta.url));

/** The shim outlives the node: a restarted node (a new RuncRuntime) finds what still runs and what ended. */
describe('RuncRuntime after a node restart', () => {
  const fx = new RuncFixture();
  beforeAll(() => fx.ready());
  afterEach(() => fx.cleanupContainers());
  afterAll(() => fx.dispose());

  /** Starts the container from a separate node process, then SIGKILLs that process. */
  async function startFromANodeThatDies(spec: RuncContainerSpec): Promise<{ pid: number }> {
    const node = spawn(process.execPath, ['--import', 'tsx', NODE_SCRIPT, JSON.stringify({ options: fx.options, spec })], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the node process did not start the container within 20 s')), 20_000);
        createInterface({ input: node.stdout! }).once('line', (l) => (clearTimeout(timer), resolve(l)));
        node.once('exit', (code) => (clearTimeout(timer), reject(new Error(`the node process ended (${code}) before starting the container`))));
      });
      return JSON.parse(line) as { pid: number };
    } finally {
      node.kill('SIGKILL');
    }
  }

  it('re-attaches to a container whose node was SIGKILLed, and still gets its exit and its logs', async () => {
    const s = fx.spec(['sh', '-c', 'echo early; sleep 1; echo late; exit 7']);
    const { pid } = await startFromANodeThatDies(s);
    expect(pid).toBeGreaterThan(0);
    const restarted = fx.runtime();
    const found = await restarted.reconcile([s.id, 'never-started']);
    expect(found.get(s.id)).toEqual({ state: 'running' });
    expect(found.get('never-started')).toEqual({ state: 'gone' });
    expect(await restarted.wait(s.id, { timeoutMs: 10_000 })).toMatchObject({ exitCode: 7, reason: 'completed' });
    expect((await collect(restarted.logs(s.id, {}))).map((l) => l.line)).toEqual(['early', 'late']);
    expect((await fx.runtime().reconcile([s.id])).get(s.id)).toMatchObject({ state: 'exited', status: { exitCode: 7, reason: 'completed' } });
    restarted.close();
  });

  it('reports a paused container as paused', async () => {
    const runtime = fx.runtime();
    const s = fx.spec(['sleep', '100']);
    await runtime.start(s);
    await runtime.pause(s.id);
    expect((await fx.runtime().reconcile([s.id])).get(s.id)).toEqual({ state: 'paused' });
  });

  it('a container killed together with its shim is gone: no exit status survives, and runc’s leftovers are cleaned', async () => {
    const runtime = fx.runtime();
    const s = fx.spec(['sleep', '100']);
    await runtime.start(s);
    const record = fx.shimRecord(s.id);
    process.kill(record.shim.pid, 'SIGKILL');
    process.kill(record.containerPid!, 'SIGKILL');
    await until('runc to see the container stop', async () => (await runtime.state(s.id)) !== 'running');
    const found = await fx.runtime().reconcile([s.id]);
    expect(found.get(s.id)).toEqual({ state: 'gone' });
    expect(await runtime.state(s.id)).toBe('unknown');
    // A wait begun before (the node that never restarted) ends too, saying the status is lost.
    expect(await runtime.wait(s.id, { timeoutMs: 5000 })).toMatchObject({ exitCode: 255, reason: 'error', error: expect.stringMatching(/shim died/) });
  });

  it('a container whose shim alone was killed still runs (unsupervised); its end is then reported as lost', async () => {
    const runtime = fx.runtime();
    const s = fx.spec(['sleep', '100']);
    await runtime.start(s);
    process.kill(fx.shimRecord(s.id).shim.pid, 'SIGKILL');
    expect((await fx.runtime().reconcile([s.id])).get(s.id)).toEqual({ state: 'running' });
    await runtime.kill(s.id, 'KILL');
    expect(await runtime.wait(s.id, { timeoutMs: 5000 })).toMatchObject({ exitCode: 255, reason: 'error' });
  });

  it('starts the same container again after it exited: the log carries on across runs', async () => {
    const runtime = fx.runtime();
    const s = fx.spec(['sh', '-c', 'echo run']);
    await runtime.start(s);
    await runtime.wait(s.id, { timeoutMs: 5000 });
    await runtime.start(s);
    expect(await runtime.wait(s.id, { timeoutMs: 5000 })).toMatchObject({ exitCode: 0 });
    expect((await collect(runtime.logs(s.id, {}))).map((l) => l.line)).toEqual(['run', 'run']);
  });
});

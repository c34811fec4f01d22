import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collect, RuncFixture, until } from '../testing/runc-fixture.js';

/** `logs` over what real shims wrote: since, tail, follow (ending with the process, or when aborted). */
describe('RuncRuntime logs', () => {
  const fx = new RuncFixture();
  const runtime = fx.runtime();
  beforeAll(() => fx.ready());
  afterEach(() => fx.cleanupContainers());
  afterAll(() => {
    runtime.close();
    fx.dispose();
  });
  const lines = async (id: string, options: Parameters<typeof runtime.logs>[1]) => (await collect(runtime.logs(id, options))).map((l) => l.line);

  it('since keeps lines from a time on; tail keeps the last n', async () => {
    const s = fx.spec(['sh', '-c', 'echo one; sleep 0.3; echo two; echo three']);
    await runtime.start(s);
    await runtime.wait(s.id, { timeoutMs: 5000 });
    const all = await collect(runtime.logs(s.id, {}));
    expect(all.map((l) => l.line)).toEqual(['one', 'two', 'three']);
    expect(await lines(s.id, { since: all[1]!.time })).toEqual(['two', 'three']);
    expect(await lines(s.id, { since: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
    expect(await lines(s.id, { tail: 1 })).toEqual(['three']);
    expect(await lines(s.id, { tail: 0 })).toEqual([]);
    expect(await lines(s.id, { tail: 10 })).toEqual(['one', 'two', 'three']);
    expect(await lines(s.id, { since: all[1]!.time, tail: 1 })).toEqual(['three']);
  });

  it('follow streams lines as they come and ends when the process does', async () => {
    const s = fx.spec(['sh', '-c', 'for i in 1 2 3; do echo $i; sleep 0.2; done']);
    await runtime.start(s);
    const seen: { line: string; at: number }[] = [];
    for await (const l of runtime.logs(s.id, { follow: true })) seen.push({ line: l.line, at: Date.now() });
    expect(seen.map((l) => l.line)).toEqual(['1', '2', '3']);
    expect(seen[2]!.at - seen[0]!.at).toBeGreaterThanOrEqual(300); // streamed, not read at the end
  });

  it('follow with tail starts from the last lines', async () => {
    const s = fx.spec(['sh', '-c', 'echo a; echo b; sleep 0.5; echo c']);
    await runtime.start(s);
    await until('b in the log', async () => (await lines(s.id, {})).includes('b'));
    expect(await lines(s.id, { tail: 1, follow: true })).toEqual(['b', 'c']);
  });

  it('follow stops when aborted, and at once for a container that has ended', async () => {
    const s = fx.spec(['sh', '-c', 'echo up; sleep 100']);
    await runtime.start(s);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    const t0 = Date.now();
    expect(await lines(s.id, { follow: true, signal: abort.signal })).toEqual(['up']);
    expect(Date.now() - t0).toBeLessThan(2000);
    await runtime.kill(s.id, 'KILL');
    await runtime.wait(s.id, { timeoutMs: 5000 });
    expect(await lines(s.id, { follow: true })).toEqual(['up']);
  });

  it('cuts an endless line into records a reader can put back together', async () => {
    const s = fx.spec(['sh', '-c', 'x=a; i=0; while test $i -lt 18; do x="$x$x"; i=$((i+1)); done; echo $x']);
    await runtime.start(s);
    await runtime.wait(s.id, { timeoutMs: 10_000 });
    const parts = await lines(s.id, {});
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.join('')).toBe('a'.repeat(2 ** 18));
  });
});

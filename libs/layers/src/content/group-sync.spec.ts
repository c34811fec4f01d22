import { describe, expect, it } from 'vitest';
import { GroupSync } from './group-sync.js';

describe('GroupSync', () => {
  /** An fsync that finishes when told to, recording when each one started. */
  function controlled() {
    const runs: Array<{ finish: (error?: Error) => void }> = [];
    const group = new GroupSync(
      () =>
        new Promise<void>((resolve, reject) => {
          runs.push({ finish: (error) => (error ? reject(error) : resolve()) });
        }),
    );
    return { group, runs };
  }
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  it('answers each caller with an fsync that started after it asked; callers during a run share the next one', async () => {
    const { group, runs } = controlled();
    const done: string[] = [];
    const a = group.sync().then(() => done.push('a'));
    expect(runs).toHaveLength(1);
    const b = group.sync().then(() => done.push('b'));
    const c = group.sync().then(() => done.push('c'));
    await tick();
    expect(runs).toHaveLength(1); // b and c wait: the running fsync may have started before their renames
    runs[0].finish();
    await a;
    await tick();
    expect(done).toEqual(['a']);
    expect(runs).toHaveLength(2); // one more, for both
    const d = group.sync().then(() => done.push('d'));
    runs[1].finish();
    await Promise.all([b, c]);
    await tick();
    expect(done).toEqual(['a', 'b', 'c']);
    expect(runs).toHaveLength(3);
    runs[2].finish();
    await d;
    expect(done).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a failed fsync fails its callers only; the next ones run again', async () => {
    const { group, runs } = controlled();
    const a = group.sync();
    const b = group.sync();
    runs[0].finish(new Error('EIO'));
    await expect(a).rejects.toThrow('EIO');
    await tick();
    runs[1].finish();
    await expect(b).resolves.toBeUndefined();
    const c = group.sync();
    expect(runs).toHaveLength(3);
    runs[2].finish();
    await expect(c).resolves.toBeUndefined();
  });
});

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSnapshotter, overlayMissing } from './detect.js';
import { NativeSnapshotter } from './native-snapshotter.js';

// Without root, see native-snapshotter.spec.ts: it runs openSnapshotter as uid 65534.
describe('openSnapshotter', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-detect-'));
    const missing = await overlayMissing(root);
    if (missing.length > 0) throw new Error(`these tests expect a machine that can run overlay: ${missing.join('; ')}`);
  });
  afterEach(() => root && rm(root, { recursive: true, force: true }));

  it('picks overlay when it can, says why, and leaves no probe behind', async () => {
    const { snapshotter, reason } = await openSnapshotter(root);
    expect(snapshotter.name).toBe('overlay');
    expect(reason).toBe(`overlay: root, kernel overlayfs and a probe mount in ${join(root, 'overlay')} work`);
    expect(await readdir(join(root, 'overlay'))).toEqual(['snapshots']);
    expect((await openSnapshotter(root, { prefer: 'overlay' })).snapshotter.name).toBe('overlay');
  });

  it('takes native when told to', async () => {
    expect(await openSnapshotter(root, { prefer: 'native' })).toMatchObject({ snapshotter: { name: 'native' }, reason: 'native: chosen by configuration' });
  });

  it('auto stays with native where only native snapshots exist, so containers keep their layers', async () => {
    const native = await NativeSnapshotter.open(join(root, 'native'));
    await native.prepare('ctr');
    const { snapshotter, reason } = await openSnapshotter(root);
    expect(snapshotter.name).toBe('native');
    expect(reason).toMatch(/^native: .*already holds snapshots/);
    expect(await snapshotter.stat('ctr')).toEqual({ key: 'ctr', kind: 'active' });
    expect((await openSnapshotter(root, { prefer: 'overlay' })).snapshotter.name).toBe('overlay');
  });
});

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxRootfs } from '../libs/layers/src/testing/busybox-rootfs.js';
import { startChildNode, unmountUnder, type ChildNode } from './support/child-node.js';
import { ADMIN_TOKEN } from './support/test-node.js';
import { tarOf } from './support/trees.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The node is SIGKILLed while containers run and while a commit is half done. After the restart a
 * container that still runs is re-attached, one that ended meanwhile is reported with its real exit
 * code, and the commit completes exactly once. Real runc, the real binary, the same data directory.
 */
describe('a node killed mid-flight', () => {
  let dataDir: string;
  let node: ChildNode | undefined;
  const events = async (n: ChildNode, stream: string, type: string) =>
    (await n.json('GET', `/events?stream=${stream}&type=${type}&limit=1000`)).body.items as any[];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'strata-crash-'));
    const rootfs = join(dataDir, 'busybox-rootfs');
    mkdirSync(rootfs);
    await makeBusyboxRootfs(rootfs);
    node = await startChildNode(dataDir);
    const r = await fetch(`${node.url}/images/import?tag=busybox:latest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/x-tar' },
      body: tarOf(rootfs),
    });
    expect(r.status).toBe(201);
  });
  afterAll(async () => {
    await node?.stop();
    unmountUnder(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('re-attaches to what still runs and records what ended while it was down', async () => {
    let n = node!;
    const runner = (await n.json('POST', '/containers', { image: 'busybox', name: 'runner', cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'] })).body.container;
    const ender = (await n.json('POST', '/containers', { image: 'busybox', name: 'ender', cmd: ['sh', '-c', 'echo working; sleep 2; echo bye > /bye; exit 5'] })).body.container;
    expect((await n.json('POST', '/containers/runner/start')).status).toBe(200);
    expect((await n.json('POST', '/containers/ender/start')).status).toBe(200);
    const vanisher = (await n.json('POST', '/containers', { image: 'busybox', name: 'vanisher', cmd: ['sleep', '300'] })).body.container;
    expect((await n.json('POST', '/containers/vanisher/start')).status).toBe(200);
    await n.crash();
    // While the node is down, vanisher disappears with its supervisor (as after a reboot).
    const shim = (JSON.parse(readFileSync(join(dataDir, 'runtime', vanisher.id, 'shim.json'), 'utf8')) as { shim: { pid: number } }).shim.pid;
    process.kill(shim, 'SIGKILL');
    execFileSync('runc', ['--root', join(dataDir, 'runtime', '.runc'), 'kill', vanisher.id, 'KILL']);
    await sleep(3000); // ender finishes while no node watches it
    node = n = await startChildNode(dataDir);

    const r = await n.json('GET', '/containers/runner');
    expect(r.body.status).toBe('running');
    const e = await n.json('GET', `/containers/ender?minPosition=${(await n.json('GET', '/healthz')).body.head}`);
    expect(e.body).toMatchObject({ status: 'exited', exitCode: 5, exitReason: 'completed' });
    // What the process wrote before it ended is in the log too.
    const files = await n.json('GET', '/containers/ender/files/history?path=/bye');
    expect(files.body.items).toMatchObject([{ kind: 'A', source: 'process' }]);

    const v = await n.json('GET', '/containers/vanisher');
    expect(v.body).toMatchObject({ status: 'exited', exitReason: 'node-restart' });

    const stopped = await n.json('POST', '/containers/runner/stop?t=5');
    expect(stopped.body.container).toMatchObject({ status: 'exited', exitCode: 0, exitReason: 'stopped' });
    expect(await events(n, `container-${runner.id}`, 'ContainerExited')).toHaveLength(1);
    expect(await events(n, `container-${ender.id}`, 'ContainerExited')).toHaveLength(1);
  });

  it('finishes a commit the crash cut in half, exactly once', async () => {
    await node!.stop();
    node = await startChildNode(dataDir, { STRATA_FAULT: 'commit:after-request' });
    const dying = await node.json('POST', '/containers/ender/commit', { tag: 'demo/crash:1', message: 'cut short' }).catch((error: unknown) => error);
    expect(dying).toBeInstanceOf(Error); // the node died between recording the request and the image
    const dead = node.process;
    if (dead.exitCode === null && dead.signalCode === null) await new Promise((r) => dead.once('exit', r));
    node = await startChildNode(dataDir);
    let image: any;
    for (let i = 0; i < 100 && !image; i++) {
      const r = await node.json('GET', '/images/demo%2Fcrash%3A1');
      if (r.status === 200) image = r.body;
      else await sleep(100);
    }
    expect(image).toMatchObject({ origin: 'commit', tags: ['demo/crash:1'] });
    expect(image.history.at(-1)).toMatchObject({ comment: 'cut short' });
    const ender = (await node.json('GET', '/containers/ender')).body;
    expect(await events(node, `container-${ender.id}`, 'ContainerCommitRequested')).toHaveLength(1);
    expect(await events(node, `container-${ender.id}`, 'ContainerCommitted')).toHaveLength(1);
    expect(await events(node, `image-${image.manifestDigest.slice(7)}`, 'ImageCreated')).toHaveLength(1);
    // A second restart changes nothing.
    const head = (await node.json('GET', '/healthz')).body.head;
    await node.stop();
    node = await startChildNode(dataDir);
    await sleep(500);
    expect((await node.json('GET', '/healthz')).body.head).toBe(head);
  });
});

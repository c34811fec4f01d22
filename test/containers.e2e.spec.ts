import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerReply, DiffEntryView, ImageView, LogLineView } from '@strata/api';
import { withMounted, type OpenedSnapshotter } from '@strata/layers';
import { SNAPSHOTTER } from '../apps/strata/src/images/layer-tokens.js';
import { makeBusyboxRootfs } from '../libs/layers/src/testing/busybox-rootfs.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';
import { tarOf, tool, treeOf } from './support/trees.js';

const STORY = 'echo hello > /greeting; rm /etc/motd; mkdir -p /srv && echo x > /srv/a';

/**
 * Issue 4's story, end to end with real runc and a busybox-static image, once per snapshotter: a
 * container's process changes files, its diff shows them, the image's layers stay untouched, a commit
 * makes a new image that a second container and umoci both see, and the log replays to the same state.
 */
describe.each(['overlay', 'native'] as const)('containers end to end (%s snapshotter)', (snapshotter) => {
  let t: TestNode;
  let work: string;
  let story: ContainerReply['container'];
  let commitPosition = 0;

  const post = <T = any>(path: string, body?: unknown) => t.json<T>('POST', path, body);
  const layerTrees = async () => {
    const opened = t.node.app.get<OpenedSnapshotter>(SNAPSHOTTER);
    const image = (await t.json<ImageView>('GET', '/images/busybox')).body;
    const top = image.layers.at(-1)!.chainId;
    const key = `check-${Date.now()}`;
    const tree = await withMounted(await opened.snapshotter.view(key, top), async (root) => treeOf(root));
    await opened.snapshotter.remove(key);
    return tree;
  };

  beforeAll(async () => {
    t = await startTestNode({ env: { STRATA_SNAPSHOTTER: snapshotter } });
    work = mkdtempSync(join(tmpdir(), `strata-containers-${snapshotter}-`));
    const rootfs = join(work, 'rootfs');
    mkdirSync(rootfs);
    await makeBusyboxRootfs(rootfs);
    const r = await fetch(`${t.url}/images/import?tag=busybox:latest&source=busybox.tar`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/x-tar' },
      body: tarOf(rootfs),
    });
    expect(r.status).toBe(201);
  });
  afterAll(async () => {
    await t?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('uses the snapshotter it was asked for', async () => {
    expect((await t.json('GET', '/status')).body.snapshotter.name).toBe(snapshotter);
  });

  it('runs the story: exit code 0, the logs, and a diff of exactly what the process changed', async () => {
    const created = await post<ContainerReply>('/containers', { image: 'busybox', name: 'story', cmd: ['sh', '-c', `${STORY}; echo done; echo warn >&2`] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const before = await layerTrees(); // create unpacked the image's layers
    story = created.body.container;
    expect(story).toMatchObject({ name: 'story', status: 'created', snapshotter });
    expect((await post(`/containers/story/start`)).status).toBe(200);
    const waited = await post('/containers/story/wait');
    expect(waited.body).toEqual({ exitCode: 0, reason: 'completed' });
    const logs = await t.call('GET', '/containers/story/logs');
    const lines = (await logs.text()).trim().split('\n').map((l) => JSON.parse(l) as LogLineView);
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['done']);
    expect(lines.filter((l) => l.stream === 'stderr').map((l) => l.line)).toEqual(['warn']);
    const diff = (await t.json<DiffEntryView[]>('GET', '/containers/story/changes')).body;
    expect(diff).toEqual(expect.arrayContaining([
      { kind: 'A', path: '/greeting' }, { kind: 'D', path: '/etc/motd' }, { kind: 'A', path: '/srv' }, { kind: 'A', path: '/srv/a' },
    ]));
    expect(diff.filter((d) => !['/greeting', '/etc/motd', '/srv', '/srv/a', '/etc'].includes(d.path))).toEqual([]);
    // The image's layers are byte for byte what they were.
    expect(await layerTrees()).toEqual(before);
    // The process's changes are in the log, with content digests.
    const history = await t.json('GET', '/containers/story/files/history?path=/greeting');
    expect(history.body.items).toMatchObject([{ kind: 'A', source: 'process', size: 6, digest: expect.stringMatching(/^sha256:/) }]);
  });

  it('commits the writable layer to demo/app:1, which a new container and umoci both see', async () => {
    const committed = await post('/containers/story/commit', { tag: 'demo/app:1', author: 'Ada <ada@example.com>', message: 'the story', changes: ['CMD ["sh", "-c", "cat /greeting"]'] });
    expect(committed.status).toBe(201);
    commitPosition = committed.body.position;
    const image = committed.body.image as ImageView;
    expect(image).toMatchObject({ origin: 'commit', tags: ['demo/app:1'], parent: story.image.manifestDigest });
    expect(image.layers).toHaveLength(2);
    expect(image.history.at(-1)).toMatchObject({ author: 'Ada <ada@example.com>', comment: 'the story' });

    const second = await post<ContainerReply>('/containers', { image: 'demo/app:1', cmd: ['sh', '-c', 'cat /greeting; ls /etc/motd || echo no-motd; cat /srv/a'] });
    await post(`/containers/${second.body.container.id}/start`);
    expect((await post(`/containers/${second.body.container.id}/wait`)).body.exitCode).toBe(0);
    const out = (await (await t.call('GET', `/containers/${second.body.container.id}/logs`)).text()).trim().split('\n').map((l) => JSON.parse(l).line);
    expect(out.filter((l: string) => !l.includes('No such file'))).toEqual(['hello', 'no-motd', 'x']);

    const saved = await t.call('GET', '/images/save?ref=demo/app:1');
    const layout = join(work, 'saved');
    mkdirSync(layout);
    tool('tar', ['-C', layout, '-xf', '-'], { input: Buffer.from(await saved.arrayBuffer()) });
    tool('umoci', ['unpack', '--image', `${layout}:demo/app:1`, join(work, 'bundle')]);
    const tree = treeOf(join(work, 'bundle/rootfs'));
    expect(tree['greeting']).toMatchObject({ type: 'file' });
    expect(tree['etc/motd']).toBeUndefined();
    expect(tree['srv/a']).toMatchObject({ type: 'file' });

    const history = await t.json('GET', '/images/demo%2Fapp%3A1/history');
    expect(history.body.items).toHaveLength(2);
    expect(history.body.items[1]).toMatchObject({ author: 'Ada <ada@example.com>', comment: 'the story' });
  });

  it('replays to the same checksum, and time travel to before the commit shows the diff and no demo/app:1', async () => {
    const head = (await t.json('GET', '/healthz')).body.head;
    const before = await t.json('GET', `/admin/checksum?minPosition=${head}`);
    const result = (await (await t.call('POST', '/admin/replay')).text()).trim().split('\n').map((l) => JSON.parse(l)).at(-1);
    expect(result.checksumAfter).toBe(before.body.checksum);
    const at = commitPosition - 4;
    const images = await t.json('GET', `/images?at=${at}`);
    expect(images.body.items.flatMap((i: ImageView) => i.tags)).not.toContain('demo/app:1');
    const changes = await t.json('GET', `/containers/story/files/history?at=${at}`);
    expect(changes.body.items.map((c: any) => c.path)).toEqual(expect.arrayContaining(['/greeting', '/etc/motd', '/srv/a']));
  });

  it('refuses every wrong state with a 409 naming it, and appends nothing', async () => {
    const sleeper = (await post<ContainerReply>('/containers', { image: 'busybox', name: 'sleeper', cmd: ['sleep', '300'] })).body.container;
    const head = async () => (await t.json('GET', '/healthz')).body.head as number;
    const expectState = async (method: 'POST' | 'DELETE', path: string, code: string, body?: unknown) => {
      const h = await head();
      const r = await t.json(method, path, body);
      expect({ path, status: r.status, code: r.body.code }).toEqual({ path, status: 409, code });
      expect(await head()).toBe(h);
    };
    await expectState('POST', '/containers/sleeper/pause', 'CONTAINER_NOT_STARTED');
    await post('/containers/sleeper/start');
    await expectState('POST', '/containers/sleeper/start', 'CONTAINER_RUNNING');
    await expectState('DELETE', '/containers/sleeper', 'CONTAINER_RUNNING');
    await expectState('POST', '/containers/sleeper/unpause', 'CONTAINER_RUNNING');
    expect((await post('/containers/sleeper/pause')).body.container.status).toBe('paused');
    await expectState('POST', '/containers/sleeper/start', 'CONTAINER_PAUSED');
    expect((await post('/containers/sleeper/unpause')).body.container.status).toBe('running');
    const stopped = await post('/containers/sleeper/stop?t=2');
    expect(stopped.body.container).toMatchObject({ status: 'exited', exitReason: 'stopped' });
    await expectState('POST', '/containers/sleeper/pause', 'CONTAINER_NOT_RUNNING');
    await expectState('POST', '/containers/sleeper/kill', 'CONTAINER_NOT_RUNNING');
    await expectState('POST', '/containers/sleeper/exec', 'CONTAINER_NOT_RUNNING', { cmd: ['true'] });
    await expectState('POST', '/containers/sleeper/unpause', 'CONTAINER_NOT_RUNNING');
    expect((await post('/containers/sleeper/kill?signal=NOPE!')).body.code).toBe('INVALID_SIGNAL');
    expect((await t.json('GET', '/containers/sleeper/files?path=etc/passwd')).body.code).toBe('INVALID_PATH');
    expect((await t.json('GET', '/containers/sleeper/files?path=/../../etc/passwd')).body.code).toBe('PATH_ESCAPES_ROOT');
    expect((await t.json('DELETE', '/containers/sleeper')).status).toBe(200);
    // A removed container is gone from every verb: its id answers 404, its history stays in the log.
    for (const [method, path] of [['POST', 'start'], ['POST', 'stop'], ['POST', 'commit'], ['POST', 'rename?name=x'], ['GET', 'changes'], ['GET', 'files?path=/etc/passwd']] as const) {
      const r = await t.json(method, `/containers/${sleeper.id}/${path}`, method === 'POST' && path === 'commit' ? {} : undefined);
      expect({ path, status: r.status, code: r.body.code }).toEqual({ path, status: 404, code: 'CONTAINER_NOT_FOUND' });
    }
    expect((await t.json('GET', `/events?stream=container-${sleeper.id}`)).body.items.at(-1).type).toBe('ContainerRemoved');
    // Bad input, each refused with its own code before anything is created.
    const before = await head();
    for (const [body, code] of [
      [{ image: 'busybox', name: 'bad name!', cmd: ['true'] }, 'INVALID_CONTAINER_NAME'],
      [{ image: 'busybox', restart: 'sometimes', cmd: ['true'] }, 'INVALID_RESTART_POLICY'],
      [{ image: 'busybox', env: ['=oops'], cmd: ['true'] }, 'INVALID_ENV'],
      [{ image: 'busybox', workingDir: 'relative', cmd: ['true'] }, 'INVALID_WORKDIR'],
      [{ image: 'busybox' }, 'NO_COMMAND'],
      [{ image: 'busybox', cmd: 'true' }, 'VALIDATION_FAILED'],
      [{ cmd: ['true'] }, 'VALIDATION_FAILED'],
    ] as const) {
      const r = await post('/containers', body);
      expect({ body, status: r.status, code: r.body.code }).toEqual({ body, status: 400, code });
    }
    expect(await head()).toBe(before);
    // A name in use, an image that does not exist, a path that climbs out.
    await post('/containers', { image: 'busybox', name: 'taken', cmd: ['true'] });
    expect((await post('/containers', { image: 'busybox', name: 'taken', cmd: ['true'] })).body.code).toBe('CONTAINER_NAME_IN_USE');
    expect((await post('/containers', { image: 'nope:1', cmd: ['true'] })).body.code).toBe('IMAGE_NOT_FOUND');
  });

  it('restarts by policy with back-off, and never a container the user stopped', async () => {
    const flaky = (await post<ContainerReply>('/containers', { image: 'busybox', restart: 'on-failure:2', cmd: ['sh', '-c', 'echo run; exit 3'] })).body.container;
    await post(`/containers/${flaky.id}/start`);
    const started = async () => (await t.json('GET', `/events?stream=container-${flaky.id}&type=ContainerStarted`)).body.items.length as number;
    for (let i = 0; i < 100 && (await started()) < 3; i++) await new Promise((r) => setTimeout(r, 100));
    await post(`/containers/${flaky.id}/wait`);
    await new Promise((r) => setTimeout(r, 500)); // a fourth start would come within the back-off
    const view = (await t.json('GET', `/containers/${flaky.id}?minPosition=${(await t.json('GET', '/healthz')).body.head}`)).body;
    expect(view).toMatchObject({ status: 'exited', exitCode: 3, restartCount: 2 });
    expect(await started()).toBe(3);

    const always = (await post<ContainerReply>('/containers', { image: 'busybox', restart: 'always', cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'] })).body.container;
    await post(`/containers/${always.id}/start`);
    expect((await post(`/containers/${always.id}/stop?t=5`)).body.container.status).toBe('exited');
    await new Promise((r) => setTimeout(r, 500));
    expect((await t.json('GET', `/containers/${always.id}`)).body.status).toBe('exited');
    await t.json('DELETE', `/containers/${flaky.id}`);
    await t.json('DELETE', `/containers/${always.id}`);
  });

  it('prune removes the unpacked layers of an image once it and its containers are gone', async () => {
    const tagged = await t.json('PUT', '/repositories/prunable/tags/1', { image: 'demo/app:1' });
    expect(tagged.status).toBe(200);
    const user = (await post<ContainerReply>('/containers', { image: 'prunable:1', cmd: ['true'] })).body.container;
    expect((await t.json('DELETE', '/images/prunable%3A1?force=true')).body.code).toBe('IMAGE_IN_USE_BY_CONTAINER');
    await t.json('DELETE', `/containers/${user.id}`);
    for (const c of (await t.json('GET', '/containers?all=true')).body.items) {
      if (c.image.manifestDigest === user.image.manifestDigest) await t.json('DELETE', `/containers/${c.id}?force=true`);
    }
    expect((await t.json('DELETE', '/images/prunable%3A1?force=true')).status).toBe(200);
    const dry = await post('/system/prune?dryRun=true');
    expect(dry.body.removedSnapshots).toBeGreaterThanOrEqual(1);
    const pruned = await post('/system/prune');
    expect(pruned.body.removedSnapshots).toBeGreaterThanOrEqual(2); // the commit's layer and its init layer at least
    // busybox's layer stays: its image lives.
    const again = await post<ContainerReply>('/containers', { image: 'busybox', cmd: ['true'] });
    expect(again.status).toBe(201);
  });

  it('copies files in and out like docker cp, recording API changes at once; symlinks never lead out', async () => {
    const put = await t.call('PUT', '/containers/story/files?path=/etc/app.conf', 'setting=1\n', { 'content-type': 'application/octet-stream' });
    expect(put.status).toBe(200);
    const read = await t.call('GET', '/containers/story/files?path=/etc/app.conf');
    expect(await read.text()).toBe('setting=1\n');
    await t.call('PUT', '/containers/story/files?path=/etc/app.conf', 'setting=2\n', { 'content-type': 'application/octet-stream' });
    const history = await t.json('GET', '/containers/story/files/history?path=/etc/app.conf');
    expect(history.body.items).toMatchObject([{ kind: 'A', source: 'api', actor: 'admin' }, { kind: 'A', source: 'api' }]);
    // What did it contain before? The first record's digest names the old content.
    expect(await (await t.call('GET', `/content/${history.body.items[0].digest}`)).text()).toBe('setting=1\n');
    expect((await t.json('GET', `/content/sha256:${'0'.repeat(64)}`)).body.code).toBe('BLOB_UNKNOWN');
    // A link inside the container pointing "out" resolves inside its root, like the container sees it.
    const link = await post<ContainerReply>('/containers', { image: 'busybox', cmd: ['sh', '-c', 'ln -s ../../../../../etc /escape'] });
    await post(`/containers/${link.body.container.id}/start`);
    await post(`/containers/${link.body.container.id}/wait`);
    const through = await t.call('GET', `/containers/${link.body.container.id}/files?path=/escape/passwd`);
    expect(await through.text()).toBe('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n'); // the container's, not the host's
  });
});

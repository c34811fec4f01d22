import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildHistoryReply, BuildProgress, BuildView, ContainerReply, ContainerView, ImageView, LogLineView } from '@strata/api';
import { run as strata } from '../apps/cli/src/cli.js';
import { captureIo } from '../apps/cli/src/testing/fake-node.js';
import { CommandSteps } from '../apps/strata/src/commands/command-steps.js';
import { makeBusyboxRootfs } from '../libs/layers/src/testing/busybox-rootfs.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';
import { tarOf, tool, treeOf } from './support/trees.js';

const DOCKERFILE = `# the story of issue 8
FROM busybox
ENV GREETING=hello \\
    TARGET="the build"
WORKDIR /app
COPY src/ ./
RUN echo built > /app/built.txt && echo temp > /app/temp.txt && rm /app/temp.txt && rm /etc/motd && echo "step output" && echo "to stderr" >&2
EXPOSE 8080
CMD ["sh", "-c", "echo $GREETING $TARGET from $(pwd); ls -A | tr '\\\\n' ' '"]
`;

/**
 * Issue 8 end to end, with real runc and a busybox-static base: a Dockerfile builds step by step into
 * an image that a container runs and umoci unpacks, a second build comes from the cache, a change in
 * one copied file rebuilds from its step on, and a failing RUN leaves nothing behind. Once per snapshotter.
 */
describe.each(['overlay', 'native'] as const)('build end to end (%s snapshotter)', (snapshotter) => {
  let t: TestNode;
  let work: string;
  let context: string;
  let first: { lines: BuildProgress[]; end: BuildProgress };

  const url = (path: string) => `${t.url}${path}`;
  async function build(query: Record<string, string | string[]>): Promise<{ status: number; lines: BuildProgress[]; end: BuildProgress; body: any }> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
    const response = await fetch(url(`/builds?${params}`), {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/x-tar' },
      body: tarOf(context),
    });
    const text = await response.text();
    if (response.status !== 200) return { status: response.status, lines: [], end: undefined as never, body: JSON.parse(text) };
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as BuildProgress);
    return { status: response.status, lines, end: lines.at(-1)!, body: undefined };
  }
  const stepsOf = (lines: BuildProgress[]) => lines.filter((l): l is Extract<BuildProgress, { type: 'step-completed' }> => l.type === 'step-completed');
  const post = <T = any>(path: string, body?: unknown) => t.json<T>('POST', path, body);

  async function runToEnd(image: string, cmd?: string[]): Promise<{ exitCode: number; out: string[] }> {
    const created = await post<ContainerReply>('/containers', { image, ...(cmd ? { cmd } : {}) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.container.id;
    await post(`/containers/${id}/start`);
    const { exitCode } = (await post(`/containers/${id}/wait`)).body;
    const out = (await (await t.call('GET', `/containers/${id}/logs`)).text()).trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as LogLineView).line);
    await t.call('DELETE', `/containers/${id}`);
    return { exitCode, out };
  }

  beforeAll(async () => {
    t = await startTestNode({ env: { STRATA_SNAPSHOTTER: snapshotter } });
    work = mkdtempSync(join(tmpdir(), 'strata-build-'));
    const rootfs = join(work, 'rootfs');
    mkdirSync(rootfs);
    await makeBusyboxRootfs(rootfs);
    const r = await fetch(url('/images/import?tag=busybox:latest&source=busybox.tar'), {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/x-tar' },
      body: tarOf(rootfs),
    });
    expect(r.status).toBe(201);
    context = join(work, 'context');
    mkdirSync(join(context, 'src/sub'), { recursive: true });
    writeFileSync(join(context, 'Dockerfile'), DOCKERFILE);
    writeFileSync(join(context, '.dockerignore'), '# not for the image\nsrc/secret.txt\n');
    writeFileSync(join(context, 'src/a.txt'), 'a\n');
    writeFileSync(join(context, 'src/sub/b.txt'), 'b\n');
    writeFileSync(join(context, 'src/secret.txt'), 'never copied\n');
  });
  afterAll(async () => {
    await t?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('builds step by step, streaming progress and the RUN output', async () => {
    const result = await build({ tag: 'demo/built:1' });
    expect(result.status, JSON.stringify(result.body)).toBe(200);
    first = result;
    expect(result.end, JSON.stringify(result.lines.slice(-3))).toMatchObject({ type: 'completed', tag: 'demo/built:1' });
    expect(result.lines[0]).toMatchObject({ type: 'started', total: 7 });
    expect(result.lines.filter((l) => l.type === 'step').map((l) => (l as { instruction: string }).instruction)).toEqual([
      'FROM busybox', 'ENV GREETING=hello     TARGET="the build"', 'WORKDIR /app', 'COPY src/ ./',
      expect.stringMatching(/^RUN echo built/), 'EXPOSE 8080', expect.stringMatching(/^CMD \["sh"/),
    ]);
    const output = result.lines.filter((l) => l.type === 'output') as Array<Extract<BuildProgress, { type: 'output' }>>;
    expect(output.map((o) => [o.n, o.stream, o.line])).toEqual(expect.arrayContaining([[5, 'stdout', 'step output'], [5, 'stderr', 'to stderr']]));
    expect(stepsOf(result.lines).every((s) => !s.cached)).toBe(true);
  });

  it('makes an image whose container runs CMD with the ENV and WORKDIR applied and sees exactly the expected files', async () => {
    const image = (await t.json<ImageView>('GET', '/images/demo%2Fbuilt%3A1')).body;
    expect(image).toMatchObject({ origin: 'build', config: { env: expect.arrayContaining(['GREETING=hello', 'TARGET=the build']), workingDir: '/app', exposedPorts: ['8080/tcp'] } });
    const { exitCode, out } = await runToEnd('demo/built:1');
    expect(exitCode).toBe(0);
    expect(out).toEqual(['hello the build from /app', 'a.txt built.txt sub ']);
    const files = (await t.json('GET', '/images/demo%2Fbuilt%3A1/files?path=/app&recursive=true')).body.items.map((f: { path: string }) => f.path);
    expect(files.sort()).toEqual(['/app/a.txt', '/app/built.txt', '/app/sub', '/app/sub/b.txt']);
    const motd = await runToEnd('demo/built:1', ['sh', '-c', 'cat /etc/motd 2>/dev/null || echo no-motd; cat /app/sub/b.txt']);
    expect(motd.out).toEqual(['no-motd', 'b']);
  });

  it('saves an image that umoci unpacks to the same files', async () => {
    const saved = await t.call('GET', '/images/save?ref=demo/built:1');
    expect(saved.status).toBe(200);
    const layout = join(work, 'saved');
    mkdirSync(layout);
    tool('tar', ['-C', layout, '-xf', '-'], { input: Buffer.from(await saved.arrayBuffer()) });
    tool('umoci', ['unpack', '--image', `${layout}:demo/built:1`, join(work, 'bundle')]);
    const tree = treeOf(join(work, 'bundle/rootfs'));
    expect(Object.keys(tree).filter((p) => p.startsWith('app')).sort()).toEqual(['app', 'app/a.txt', 'app/built.txt', 'app/sub', 'app/sub/b.txt']);
    expect(tree['app/a.txt']).toMatchObject({ type: 'file', uid: 0, gid: 0 });
    expect(tree['etc/motd']).toBeUndefined();
    expect(tree['app/temp.txt']).toBeUndefined();
    expect(tree['bin/busybox']).toMatchObject({ type: 'file' });
  });

  it('shows one history row per instruction, created_by the instruction, config-only steps as empty layers', async () => {
    const history = (await t.json('GET', '/images/demo%2Fbuilt%3A1/history')).body.items as Array<{ createdBy: string; emptyLayer: boolean }>;
    expect(history).toHaveLength(1 + 6); // busybox's import, then one row per instruction after FROM
    expect(history.slice(1).map((h) => [h.createdBy.split(' ')[0], h.emptyLayer])).toEqual([
      ['ENV', true], ['WORKDIR', false], ['COPY', false], ['RUN', false], ['EXPOSE', true], ['CMD', true],
    ]);
    expect(history[4]!.createdBy).toMatch(/^RUN echo built > \/app\/built.txt/);
  });

  it('records the build as its own stream, and no intermediate container is left', async () => {
    const buildId = (first.end as { buildId: string }).buildId;
    const h = (await t.json<BuildHistoryReply>('GET', `/builds/${buildId}/history`)).body;
    expect(h.items.map((e) => e.type)).toEqual(['BuildStarted', ...Array(7).fill('BuildStepCompleted'), 'BuildCompleted']);
    expect(h.items[0]!.data).toMatchObject({ buildId, contextDigest: expect.stringMatching(/^sha256:/), fileDigest: expect.stringMatching(/^sha256:/), tag: 'demo/built:1' });
    const view = (await t.json<BuildView>('GET', `/builds/${buildId}`)).body;
    expect(view).toMatchObject({ status: 'completed', actor: 'admin', steps: expect.any(Array) });
    const all = (await t.json<{ items: ContainerView[] }>('GET', '/containers?all=true')).body.items;
    expect(all.filter((c) => c.name.startsWith('build-'))).toEqual([]);
  });

  it('takes a second build of the same context entirely from the cache: the same image id', async () => {
    const second = await build({ tag: 'demo/built:2' });
    expect(second.end).toMatchObject({ type: 'completed', imageId: (first.end as { imageId: string }).imageId });
    expect(stepsOf(second.lines).slice(1).every((s) => s.cached)).toBe(true);
    expect(second.lines.some((l) => l.type === 'output')).toBe(false);
    // --no-cache runs everything again.
    const fresh = await build({ tag: 'demo/built:fresh', noCache: 'true' });
    expect(fresh.end).toMatchObject({ type: 'completed' });
    expect(stepsOf(fresh.lines).some((s) => s.cached)).toBe(false);
  });

  it('rebuilds from the COPY on when one copied file changes', async () => {
    writeFileSync(join(context, 'src/sub/b.txt'), 'b changed\n');
    const third = await build({ tag: 'demo/built:3' });
    expect(third.end).toMatchObject({ type: 'completed' });
    expect(stepsOf(third.lines).map((s) => [s.n, s.cached])).toEqual([[1, false], [2, true], [3, true], [4, false], [5, false], [6, false], [7, false]]);
    expect((third.end as { imageId: string }).imageId).not.toBe((first.end as { imageId: string }).imageId);
    expect((await runToEnd('demo/built:3', ['cat', '/app/sub/b.txt'])).out).toEqual(['b changed']);
  });

  it('reports a failing RUN with its exit code and output; nothing stays running and no tag moves', async () => {
    writeFileSync(join(context, 'Dockerfile.fail'), 'FROM busybox\nRUN echo about to fail && echo oops >&2 && exit 3\nCMD ["true"]\n');
    const before = (await t.json<ImageView>('GET', '/images/demo%2Fbuilt%3A1')).body.manifestDigest;
    const failed = await build({ tag: 'demo/built:1', dockerfile: 'Dockerfile.fail' });
    expect(failed.end).toMatchObject({ type: 'failed', step: 2, exitCode: 3, code: 'RUN_FAILED' });
    expect((failed.end as { output: string }).output).toContain('oops');
    expect((failed.end as { output: string }).output).toContain('about to fail');
    expect((await t.json<ImageView>('GET', '/images/demo%2Fbuilt%3A1')).body.manifestDigest).toBe(before);
    expect((await t.json<{ items: ContainerView[] }>('GET', '/containers')).body.items).toEqual([]);
    const all = (await t.json<{ items: ContainerView[] }>('GET', '/containers?all=true')).body.items;
    expect(all.filter((c) => c.name.startsWith('build-'))).toEqual([]);
    const buildId = (failed.end as { buildId: string }).buildId;
    const h = (await t.json<BuildHistoryReply>('GET', `/builds/${buildId}/history`)).body;
    expect(h.items.map((e) => e.type)).toEqual(['BuildStarted', 'BuildStepCompleted', 'BuildFailed']);
    expect(h.items[2]!.data).toMatchObject({ step: 2, exitCode: 3, error: { code: 'RUN_FAILED' } });
  });

  it('refuses an unsupported instruction with its line number, and an unknown base image, before starting', async () => {
    writeFileSync(join(context, 'Dockerfile.bad'), 'FROM busybox\n# fine so far\nHEALTHCHECK CMD true\n');
    const bad = await build({ dockerfile: 'Dockerfile.bad' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'UNSUPPORTED_INSTRUCTION', detail: expect.stringContaining('line 3') });
    writeFileSync(join(context, 'Dockerfile.nobase'), 'FROM nothing-here:1\n');
    expect((await build({ dockerfile: 'Dockerfile.nobase' })).body).toMatchObject({ code: 'IMAGE_NOT_FOUND' });
  });

  it('ADDs a local tar unpacked, COPYs with --chown/--chmod and wildcards, and builds FROM scratch', async () => {
    const payload = join(work, 'payload');
    mkdirSync(join(payload, 'x'), { recursive: true });
    writeFileSync(join(payload, 'x/y.txt'), 'from the tar\n');
    writeFileSync(join(context, 'bundle.tar'), tarOf(payload));
    writeFileSync(join(context, 'owned.txt'), 'mine\n');
    writeFileSync(join(context, 'Dockerfile.extras'), [
      'FROM busybox', 'ADD bundle.tar /opt/', 'COPY --chown=nobody:nogroup --chmod=600 owned.txt /home/', 'COPY src/*.txt /globbed/',
    ].join('\n'));
    const extras = await build({ tag: 'demo/extras:1', dockerfile: 'Dockerfile.extras' });
    expect(extras.end, JSON.stringify(extras.end)).toMatchObject({ type: 'completed' });
    const files = async (ref: string, path: string) =>
      (await t.json('GET', `/images/${encodeURIComponent(ref)}/files?path=${path}&recursive=true`)).body.items as Array<{ path: string; uid: number; gid: number; mode: number }>;
    expect((await files('demo/extras:1', '/opt')).map((f) => f.path)).toEqual(expect.arrayContaining(['/opt/x', '/opt/x/y.txt']));
    expect((await files('demo/extras:1', '/home')).find((f) => f.path === '/home/owned.txt')).toMatchObject({ uid: 65534, gid: 65534 });
    expect(((await files('demo/extras:1', '/home')).find((f) => f.path === '/home/owned.txt')!.mode & 0o777).toString(8)).toBe('600');
    expect((await files('demo/extras:1', '/globbed')).map((f) => f.path)).toEqual(['/globbed/a.txt']); // secret.txt is .dockerignored

    writeFileSync(join(context, 'Dockerfile.scratch'), 'FROM scratch\nCOPY src/a.txt /a.txt\nCMD ["/a.txt"]\n');
    const scratch = await build({ tag: 'demo/scratch:1', dockerfile: 'Dockerfile.scratch' });
    expect(scratch.end, JSON.stringify(scratch.end)).toMatchObject({ type: 'completed' });
    expect((await files('demo/scratch:1', '/')).map((f) => f.path)).toEqual(['/a.txt']);
    const history = (await t.json('GET', '/images/demo%2Fscratch%3A1/history')).body.items;
    expect(history.map((h: { createdBy: string; emptyLayer: boolean }) => [h.createdBy, h.emptyLayer])).toEqual([['COPY src/a.txt /a.txt', false], ['CMD ["/a.txt"]', true]]);
  });

  it('works from the CLI: strata build with -f, --build-arg and -t, progress on stderr, then build history', async () => {
    const cli = async (args: string[]) => {
      const { io, out, err } = captureIo({ STRATA_URL: t.url, STRATA_TOKEN: ADMIN_TOKEN });
      const code = await strata(args, io);
      return { code, out: out(), err: err() };
    };
    const outside = join(work, 'Dockerfile.cli');
    writeFileSync(outside, 'FROM busybox\nARG WHO=nobody\nRUN echo "hello $WHO" > /who.txt && cat /who.txt\nLABEL built.by=$WHO\n');
    const built = await cli(['build', '-f', outside, '--build-arg', 'WHO=cli', '-t', 'demo/cli', context]);
    expect(built.code, built.err).toBe(0);
    expect(built.err).toContain('Step 3/4 : RUN echo "hello $WHO" > /who.txt && cat /who.txt');
    expect(built.err).toContain('hello cli');
    expect(built.out).toMatch(/^Successfully built [0-9a-f]{12}\nSuccessfully tagged demo\/cli:latest\n$/);
    const image = (await t.json<ImageView>('GET', '/images/demo%2Fcli')).body;
    expect(image.config.labels).toEqual({ 'built.by': 'cli' });
    expect(image.config.env.some((e) => e.startsWith('WHO='))).toBe(false); // ARG values are not kept in the image

    const again = await cli(['build', '-f', outside, '--build-arg', 'WHO=cli', '-t', 'demo/cli', '--json', context]);
    const lines = again.out.trim().split('\n').map((l) => JSON.parse(l) as BuildProgress);
    expect(lines.at(-1)).toMatchObject({ type: 'completed', imageId: image.imageId });
    expect(again.err).toBe('');

    const failing = join(work, 'Dockerfile.cli-fail');
    writeFileSync(failing, 'FROM busybox\nRUN echo broken; exit 7\n');
    const failed = await cli(['build', '-f', failing, context]);
    expect(failed.code).toBe(1);
    expect(failed.err).toContain('broken');
    expect(failed.err).toMatch(/returned a non-zero code: 7 \(RUN_FAILED\)/);
    const buildId = /strata build history ([0-9a-f]+)/.exec(failed.err)![1]!;
    const history = await cli(['build', 'history', buildId]);
    expect(history.code, history.err).toBe(0);
    expect(history.out).toMatch(/BuildStarted[\s\S]*BuildStepCompleted[\s\S]*BuildFailed.*exit code 7/);

    const unsupported = join(work, 'Dockerfile.cli-bad');
    writeFileSync(unsupported, 'FROM busybox\nONBUILD RUN true\n');
    const refused = await cli(['build', '-f', unsupported, context]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/line 2: ONBUILD is not supported/);
  });

  it('replays to the same checksum', async () => {
    const head = (await t.json('GET', '/healthz')).body.head;
    const before = await t.json('GET', `/admin/checksum?minPosition=${head}`);
    const result = (await (await t.call('POST', '/admin/replay')).text()).trim().split('\n').map((l) => JSON.parse(l)).at(-1);
    expect(result.checksumAfter).toBe(before.body.checksum);
  });
});

describe('a build cut short by a node restart', () => {
  it('is recorded as failed when the node starts again, and its intermediate container goes', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'strata-build-restart-'));
    const work = mkdtempSync(join(tmpdir(), 'strata-build-restart-work-'));
    try {
      let t = await startTestNode({ dataDir });
      await makeBusyboxRootfs(work);
      const r = await fetch(`${t.url}/images/import?tag=busybox:latest`, {
        method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/x-tar' }, body: tarOf(work),
      });
      const base = ((await r.json()) as { image: ImageView }).image;
      // What a node leaves behind when it dies during step 2: the build's record so far and the step's container.
      const buildId = 'feedface0123456789abcdef01234567';
      const steps = t.node.app.get(CommandSteps);
      const meta = { commandId: 'cut-short', actor: 'admin', correlationId: 'cut-short', causationId: null, occurredAt: new Date().toISOString(), nodeId: 'node-test' };
      const digest = `sha256:${'1'.repeat(64)}`;
      await steps.run(meta, 'start', 'StartBuild', {
        buildId, contextDigest: digest, fileDigest: digest, dockerfile: 'Dockerfile', args: {}, tag: 'demo/never:1', noCache: false, instructions: ['FROM busybox', 'RUN sleep 1'],
      });
      await steps.run(meta, 'step-1', 'CompleteBuildStep', {
        buildId, n: 1, instruction: 'FROM busybox', manifestDigest: base.manifestDigest, imageId: base.imageId, cached: false, cacheKey: null, containerId: null,
      });
      const created = await t.json<ContainerReply>('POST', '/containers', { image: 'busybox', name: `build-${buildId.slice(0, 12)}-step-2`, cmd: ['true'] });
      expect(created.status).toBe(201);
      await t.stop();

      t = await startTestNode({ dataDir });
      const view = (await t.json<BuildView>('GET', `/builds/${buildId}`)).body;
      expect(view).toMatchObject({ status: 'failed', failure: { step: 2, code: 'NODE_RESTARTED' } });
      const all = (await t.json<{ items: ContainerView[] }>('GET', '/containers?all=true')).body.items;
      expect(all.filter((c) => c.name.startsWith('build-'))).toEqual([]);
      expect((await t.json('GET', '/images/demo%2Fnever%3A1')).status).toBe(404);
      await t.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    }
  });
});

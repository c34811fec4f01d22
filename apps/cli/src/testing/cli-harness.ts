/**
 * Runs the whole CLI in-process against the fake node, for the command specs: one fake node per test
 * (its handler from the first call), everything the CLI printed and sent returned for inspection.
 */
import type { ContainerReply, ContainerView, ImageView } from '@strata/api';
import { run } from '../cli.js';
import { captureIo, digest, startFakeNode, type CaptureOptions, type FakeNode, type Handler } from './fake-node.js';

export function cliHarness() {
  let node: FakeNode | undefined;
  return {
    async strata(args: string[], handler: Handler, options: CaptureOptions & { env?: NodeJS.ProcessEnv } = {}) {
      node ??= await startFakeNode(handler);
      const { io, out, outBytes, err } = captureIo({ STRATA_URL: node.url, STRATA_TOKEN: 'tok', ...options.env }, options);
      const code = await run(args, io);
      return { code, out: out(), outBytes: outBytes(), err: err(), requests: node.requests };
    },
    requests: () => node?.requests ?? [],
    async close() {
      await node?.close();
      node = undefined;
    },
  };
}

/** An ImageView with plausible values; `c` picks its digests: id `sha256:ccc…`, manifest `sha256:c0c0…`. */
export function imageView(c: string, overrides: Partial<ImageView> = {}): ImageView {
  return {
    manifestDigest: digest(`${c}0`),
    imageId: digest(c),
    manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
    tags: [],
    size: 4_500_000,
    created: '2024-05-01T11:57:00.000Z',
    author: null,
    architecture: 'amd64',
    os: 'linux',
    origin: 'import',
    parent: null,
    source: 'rootfs.tar',
    layers: [],
    history: [],
    config: { cmd: null, entrypoint: null, env: [], workingDir: null, user: null, labels: {}, exposedPorts: [], volumes: [], stopSignal: null },
    recordedAt: '2024-05-01T11:57:00.000Z',
    recordedBy: 'admin',
    position: 5,
    ...overrides,
  };
}

/** A container id: 64 hex digits made of `c` (`containerId('a')` = `aaaa…`). */
export const containerId = (c: string): string => c.repeat(64).slice(0, 64);

/** A running ContainerView with plausible values, created at 11:50 and started at 11:57 (the clock is 12:00). */
export function containerView(c: string, overrides: Partial<ContainerView> = {}): ContainerView {
  return {
    id: containerId(c),
    name: `ctr-${c}`,
    image: { manifestDigest: digest('b0'), imageId: digest('b'), reference: 'busybox:latest' },
    status: 'running',
    exitCode: null,
    exitReason: null,
    restartCount: 0,
    restartPolicy: 'no',
    nodeId: 'node-1',
    snapshotter: 'native',
    config: {
      entrypoint: null,
      cmd: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      workingDir: '/',
      user: '',
      labels: {},
      hostname: containerId(c).slice(0, 12),
      stopSignal: 'SIGTERM',
      stopTimeoutSeconds: 10,
    },
    createdAt: '2024-05-01T11:50:00.000Z',
    createdBy: 'admin',
    startedAt: '2024-05-01T11:57:00.000Z',
    finishedAt: null,
    position: 7,
    ...overrides,
  };
}

/** The answer of every container command: the container after it. */
export const containerReply = (container: ContainerView, position = container.position): ContainerReply => ({
  container,
  commands: [],
  position,
});

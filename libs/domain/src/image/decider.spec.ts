import { describe, expect, it } from 'vitest';
import { codeOf } from '../testing/error-code.js';
import { fold } from '../shared/decider.js';
import type { ImageCommand } from './commands.js';
import { imageDecider, imageStreamId } from './decider.js';
import type { ImageCreatedData, ImageEvent } from './events.js';
import { parseImageReference } from './references.js';

const D = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const image = (overrides: Partial<ImageCreatedData> = {}): ImageCreatedData => ({
  manifestDigest: D(1),
  imageId: D(2),
  manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
  layers: [{ digest: D(3), diffId: D(4), size: 10, mediaType: 'application/vnd.oci.image.layer.v1.tar' }],
  chainIds: [D(4)],
  size: 10,
  created: '2026-11-28T00:00:00.000Z',
  author: null,
  architecture: 'amd64',
  os: 'linux',
  history: [],
  config: { cmd: ['/bin/sh'], entrypoint: null, env: [], workingDir: null, user: null, labels: {}, exposedPorts: [], volumes: [], stopSignal: null },
  origin: 'import',
  parent: null,
  source: null,
  ...overrides,
});

function run(...commands: ImageCommand[]): ImageEvent[] {
  const events: ImageEvent[] = [];
  for (const c of commands) events.push(...imageDecider.decide(c, fold(imageDecider, events)));
  return events;
}
const remove = (o: Partial<Extract<ImageCommand, { type: 'RemoveImage' }>> = {}): ImageCommand => ({
  type: 'RemoveImage', manifestDigest: D(1), force: false, tags: [], containers: [], ...o,
});

describe('image aggregate', () => {
  it('creates an image once: the same manifest digest again is a no-op', () => {
    const events = run({ type: 'CreateImage', image: image() }, { type: 'CreateImage', image: image({ origin: 'load' }) });
    expect(events.map((e) => e.type)).toEqual(['ImageCreated']);
  });

  it('streams are keyed by the manifest digest hex', () => {
    expect(imageStreamId(D(1))).toBe(`image-${'0'.repeat(63)}1`);
    expect(codeOf(() => imageStreamId('sha256:xyz'))).toBe('INVALID_DIGEST');
  });

  it('refuses an image with a bad digest, a bad origin or missing chainIDs', () => {
    expect(codeOf(() => run({ type: 'CreateImage', image: image({ imageId: 'nope' }) }))).toBe('INVALID_DIGEST');
    expect(codeOf(() => run({ type: 'CreateImage', image: image({ origin: 'magic' as never }) }))).toBe('INVALID_IMAGE');
    expect(codeOf(() => run({ type: 'CreateImage', image: image({ chainIds: [] }) }))).toBe('INVALID_IMAGE');
  });

  it('removes an untagged image, refuses a tagged one unless forced, and never one a container uses', () => {
    const created = { type: 'CreateImage', image: image() } as const;
    expect(codeOf(() => run(remove()))).toBe('IMAGE_NOT_FOUND');
    expect(codeOf(() => run(created, remove({ tags: ['a:1'] })))).toBe('IMAGE_IN_USE');
    expect(codeOf(() => run(created, remove({ tags: ['a:1'], force: true, containers: ['c1'] })))).toBe('IMAGE_IN_USE_BY_CONTAINER');
    const forced = run(created, remove({ tags: ['a:1'], force: true }));
    expect(forced[1]).toEqual({ type: 'ImageDeleted', schemaVersion: 1, data: { manifestDigest: D(1), imageId: D(2), untagged: ['a:1'] } });
    expect(codeOf(() => run(created, remove(), remove()))).toBe('IMAGE_NOT_FOUND');
    expect(run(created, remove(), created).map((e) => e.type)).toEqual(['ImageCreated', 'ImageDeleted', 'ImageCreated']);
  });
});

describe('image references', () => {
  it.each([
    ['busybox', { kind: 'tag', repository: 'busybox', tag: 'latest' }],
    ['demo/app:1', { kind: 'tag', repository: 'demo/app', tag: '1' }],
    [`demo/app@${D(1)}`, { kind: 'digest', repository: 'demo/app', digest: D(1) }],
    [D(1), { kind: 'digest', digest: D(1) }],
    ['sha256:abcd', { kind: 'id-prefix', prefix: 'abcd' }],
    ['0123456789ab', { kind: 'id-prefix', prefix: '0123456789ab' }],
    ['cafe', { kind: 'tag', repository: 'cafe', tag: 'latest' }],
  ])('reads %s', (ref, expected) => expect(parseImageReference(ref)).toEqual(expected));

  it.each(['', 'Up:per', 'a@sha256:12', 'a@b@c'])('refuses %j', (ref) => expect(codeOf(() => parseImageReference(ref))).toMatch(/^INVALID_/));
});

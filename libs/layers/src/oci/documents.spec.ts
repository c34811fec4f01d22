import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../content/digest.js';
import { buildIndex, buildManifest, newImageConfig, serializeImageConfig, withLayer } from './builders.js';
import { chainIds } from './chain-id.js';
import { MediaTypes } from './media-types.js';
import { ociArchitecture, platformMatches } from './platform.js';
import { parseImageConfig, parseIndex, parseManifest } from './schemas.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const C = `sha256:${'c'.repeat(64)}`;

const manifestJson = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: A, size: 10 },
    layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: B, size: 20 }],
    ...over,
  });

describe('chainIds', () => {
  it('follows the OCI definition (vector computed with coreutils sha256sum)', () => {
    // printf '%s %s' "$A" "$B" | sha256sum, then the same with that result and C
    expect(chainIds([A, B, C])).toEqual([
      A,
      'sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c',
      'sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588',
    ]);
    expect(chainIds([])).toEqual([]);
    expect(() => chainIds(['sha256:nope'])).toThrow(expect.objectContaining({ code: 'DIGEST_INVALID' }));
  });
});

describe('parsing OCI and Docker documents', () => {
  it('parses an OCI manifest and a Docker schema 2 one', () => {
    const manifest = parseManifest(Buffer.from(manifestJson()));
    expect(manifest.layers[0]).toEqual({ mediaType: MediaTypes.ociLayerGzip, digest: B, size: 20 });
    expect(parseManifest(manifestJson({ mediaType: MediaTypes.dockerManifest })).mediaType).toBe(MediaTypes.dockerManifest);
    expect(parseManifest(JSON.parse(manifestJson({ mediaType: undefined }))).config.digest).toBe(A);
  });

  it.each([
    ['not JSON', '{', 'MANIFEST_INVALID'],
    ['a bad digest', manifestJson({ layers: [{ mediaType: MediaTypes.ociLayer, digest: 'sha256:123', size: 1 }] }), 'MANIFEST_INVALID'],
    ['a negative size', manifestJson({ layers: [{ mediaType: MediaTypes.ociLayer, digest: B, size: -1 }] }), 'MANIFEST_INVALID'],
    ['no config', JSON.stringify({ schemaVersion: 2, layers: [] }), 'MANIFEST_INVALID'],
    ['schema version 1', JSON.stringify({ schemaVersion: 1, fsLayers: [] }), 'UNSUPPORTED_MEDIA_TYPE'],
    ['an index media type', manifestJson({ mediaType: MediaTypes.ociIndex }), 'UNSUPPORTED_MEDIA_TYPE'],
    ['an unknown media type', manifestJson({ mediaType: 'application/x-helm' }), 'UNSUPPORTED_MEDIA_TYPE'],
  ])('refuses a manifest with %s', (_what, json, code) => {
    expect(() => parseManifest(json)).toThrow(expect.objectContaining({ code }));
  });

  it('parses an index and refuses a manifest passed as one', () => {
    const index = parseIndex(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaTypes.ociManifest, digest: A, size: 3, platform: { os: 'linux', architecture: 'arm64' } }] }));
    expect(index.manifests[0].platform).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(() => parseIndex(manifestJson())).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_MEDIA_TYPE' }));
    expect(() => parseIndex('{"schemaVersion":2}')).toThrow(expect.objectContaining({ code: 'INDEX_INVALID' }));
  });

  it("parses a config, Docker's nulls and extra fields included", () => {
    const config = parseImageConfig(
      JSON.stringify({ architecture: 'amd64', os: 'linux', docker_version: '24.0.7', config: { Env: null, Cmd: ['sh'], Labels: null, Hostname: '' }, rootfs: { type: 'layers', diff_ids: [A] } }),
    );
    expect(config.config?.Cmd).toEqual(['sh']);
    expect(config.docker_version).toBe('24.0.7');
    expect(() => parseImageConfig('{"architecture":"amd64","os":"linux"}')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => parseImageConfig(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: ['x'] } }))).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });
});

describe('building documents', () => {
  it('gives the same manifest bytes and digest for the same inputs, in whatever key order they came', () => {
    const one = buildManifest({ mediaType: MediaTypes.ociConfig, digest: A, size: 10 }, [{ mediaType: MediaTypes.ociLayer, digest: B, size: 20 }], { z: '1', a: '2' });
    const two = buildManifest({ size: 10, digest: A, mediaType: MediaTypes.ociConfig }, [{ size: 20, digest: B, mediaType: MediaTypes.ociLayer }], { a: '2', z: '1' });
    expect(two.bytes.equals(one.bytes)).toBe(true);
    expect(one.descriptor).toEqual({ mediaType: MediaTypes.ociManifest, digest: sha256Digest(one.bytes), size: one.bytes.length });
    expect(one.bytes.toString()).toBe(
      `{"schemaVersion":2,"mediaType":"${MediaTypes.ociManifest}","config":{"mediaType":"${MediaTypes.ociConfig}","digest":"${A}","size":10},` +
        `"layers":[{"mediaType":"${MediaTypes.ociLayer}","digest":"${B}","size":20}],"annotations":{"a":"2","z":"1"}}`,
    );
    expect(parseManifest(one.bytes)).toEqual(one.document);
  });

  it('builds a new image config, and a child with one more layer (docker commit)', () => {
    const base = newImageConfig({
      diffIds: [A],
      created: new Date('2024-05-01T10:00:00Z'),
      history: [{ created: '2024-05-01T10:00:00Z', created_by: 'strata import rootfs.tar' }],
      config: { Env: ['PATH=/bin'], Cmd: ['sh'] },
      architecture: 'amd64',
      author: 'ops',
    });
    expect(base).toMatchObject({ created: '2024-05-01T10:00:00.000Z', architecture: 'amd64', os: 'linux', author: 'ops', rootfs: { type: 'layers', diff_ids: [A] } });

    const child = withLayer({ ...base, docker_version: '20.10.0', container_config: { Cmd: ['old'] }, 'moby.custom': 1 }, B, { created: '2024-05-02T00:00:00Z', created_by: 'sh -c make', author: 'dev', comment: 'built' }, { Cmd: ['/app'], WorkingDir: '/srv' });
    expect(child.rootfs.diff_ids).toEqual([A, B]);
    expect(child.config).toEqual({ Env: ['PATH=/bin'], Cmd: ['/app'], WorkingDir: '/srv' });
    expect(child.created).toBe('2024-05-02T00:00:00Z');
    expect(child.author).toBe('dev');
    expect(child.history).toHaveLength(2);
    expect(child).not.toHaveProperty('docker_version');
    expect(child).not.toHaveProperty('container_config');
    expect(child['moby.custom']).toBe(1);
    expect(base.rootfs.diff_ids).toEqual([A]); // the parent is not changed

    const configOnly = withLayer(child, null, { created: '2024-05-03T00:00:00Z', created_by: 'EXPOSE 80' }, { ExposedPorts: { '80/tcp': {} } });
    expect(configOnly.rootfs.diff_ids).toEqual([A, B]);
    expect(configOnly.history?.at(-1)).toEqual({ created: '2024-05-03T00:00:00Z', created_by: 'EXPOSE 80', empty_layer: true });

    const serialized = serializeImageConfig(child);
    expect(serializeImageConfig(parseImageConfig(serialized.bytes)).descriptor).toEqual(serialized.descriptor);
    expect(serialized.descriptor.mediaType).toBe(MediaTypes.ociConfig);
  });

  it('refuses a new config whose history does not match its layers', () => {
    expect(() => newImageConfig({ diffIds: [A, B], created: '2024-01-01T00:00:00Z', history: [{ created_by: 'one' }] })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => newImageConfig({ diffIds: [], created: 'yesterday' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('builds an index', () => {
    const index = buildIndex([{ mediaType: MediaTypes.ociManifest, digest: A, size: 5, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }]);
    expect(parseIndex(index.bytes).manifests[0].annotations).toEqual({ 'org.opencontainers.image.ref.name': 'v1' });
  });
});

describe('platforms', () => {
  it("names node's architectures as OCI does", () => {
    expect(ociArchitecture('x64')).toEqual({ architecture: 'amd64' });
    expect(ociArchitecture('arm64')).toEqual({ architecture: 'arm64', variant: 'v8' });
    expect(ociArchitecture('ia32')).toEqual({ architecture: '386' });
    expect(ociArchitecture('s390x')).toEqual({ architecture: 's390x' });
  });

  it('matches index entries by os, architecture and (when both say) variant', () => {
    const arm64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };
    expect(platformMatches({ os: 'linux', architecture: 'arm64' }, arm64)).toBe(true);
    expect(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v7' }, { os: 'linux', architecture: 'arm', variant: 'v6' })).toBe(false);
    expect(platformMatches({ os: 'windows', architecture: 'amd64' }, { os: 'linux', architecture: 'amd64' })).toBe(false);
    expect(platformMatches(undefined, arm64)).toBe(false);
  });
});

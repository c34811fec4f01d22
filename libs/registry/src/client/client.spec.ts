import { describe, expect, it } from 'vitest';
import { MediaTypes, type Descriptor } from '@strata/layers';
import { findChallenge, parseAuthChallenges } from './challenge.js';
import { RegistryClientError } from './errors.js';
import { choosePlatformManifest, parsePlatform } from './platform.js';
import { formatRemoteReference, isLoopbackRegistry, parseRemoteReference, registryBaseUrl } from './reference.js';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    if (error instanceof RegistryClientError) return error.code;
    throw error;
  }
  throw new Error('expected a RegistryClientError');
};

describe('remote references', () => {
  it.each([
    ['127.0.0.1:5000/demo/app:1', { registry: '127.0.0.1:5000', repository: 'demo/app', tag: '1' }],
    ['127.0.0.1:5000/demo/app', { registry: '127.0.0.1:5000', repository: 'demo/app', tag: 'latest' }],
    [`localhost/app@${digest(1)}`, { registry: 'localhost', repository: 'app', digest: digest(1) }],
    [`registry.example.com/a/b/c:v1.2@${digest(2)}`, { registry: 'registry.example.com', repository: 'a/b/c', digest: digest(2) }],
    ['busybox', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' }],
    ['demo/app:2', { registry: 'docker.io', repository: 'demo/app', tag: '2' }],
    ['Registry.Example.com:443/x:y', { registry: 'registry.example.com:443', repository: 'x', tag: 'y' }],
    ['[::1]:5000/x:1', { registry: '[::1]:5000', repository: 'x', tag: '1' }],
  ])('parses %s', (text, expected) => {
    expect(parseRemoteReference(text)).toEqual(expected);
  });

  it.each(['', 'http://127.0.0.1:5000/x:1', '127.0.0.1:5000/UPPER:1', '127.0.0.1:5000/x:-bad', '127.0.0.1:5000/x@sha256:abc', 'a b', '127.0.0.1:5000/', 'host:port:9/x'])(
    'refuses %j as INVALID_REFERENCE',
    (text) => {
      expect(codeOf(() => parseRemoteReference(text))).toBe('INVALID_REFERENCE');
    },
  );

  it('formats back, and speaks plain HTTP only to loopback unless told to', () => {
    expect(formatRemoteReference(parseRemoteReference('127.0.0.1:5000/demo/app'))).toBe('127.0.0.1:5000/demo/app:latest');
    expect(formatRemoteReference({ registry: 'r.io', repository: 'x', digest: digest(3) })).toBe(`r.io/x@${digest(3)}`);
    expect(isLoopbackRegistry('127.0.0.1:5000')).toBe(true);
    expect(isLoopbackRegistry('localhost')).toBe(true);
    expect(isLoopbackRegistry('[::1]:5000')).toBe(true);
    expect(isLoopbackRegistry('10.0.0.1:5000')).toBe(false);
    expect(registryBaseUrl('127.0.0.1:5000')).toBe('http://127.0.0.1:5000');
    expect(registryBaseUrl('r.example.com')).toBe('https://r.example.com');
    expect(registryBaseUrl('r.example.com', { insecure: true })).toBe('http://r.example.com');
    expect(registryBaseUrl('docker.io')).toBe('https://registry-1.docker.io');
  });
});

describe('WWW-Authenticate challenges', () => {
  it("parses Docker's Bearer challenge, commas inside quotes included", () => {
    const header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"';
    expect(parseAuthChallenges(header)).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:samalba/my-app:pull,push' } },
    ]);
  });

  it('parses several challenges, unquoted values, escapes and odd spacing', () => {
    const header = 'Basic realm="basic \\"realm\\"" ,  Bearer realm=https://h/token, service = reg ,error="invalid_token"';
    const parsed = parseAuthChallenges(header);
    expect(parsed.map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(parsed[0]!.params.realm).toBe('basic "realm"');
    expect(parsed[1]!.params).toEqual({ realm: 'https://h/token', service: 'reg', error: 'invalid_token' });
    expect(findChallenge(header, 'bearer')?.params.service).toBe('reg');
    expect(findChallenge('Basic realm="x"', 'bearer')).toBeUndefined();
  });

  it('ignores what it cannot parse instead of guessing', () => {
    expect(parseAuthChallenges(undefined)).toEqual([]);
    expect(parseAuthChallenges('')).toEqual([]);
    expect(parseAuthChallenges('Bearer realm="unterminated')).toEqual([{ scheme: 'bearer', params: {} }]);
  });
});

describe('platform choice from an index', () => {
  const entry = (n: number, platform?: Descriptor['platform'], mediaType: string = MediaTypes.ociManifest): Descriptor => ({ mediaType, digest: digest(n), size: 100, platform });
  const index = [
    entry(1, { os: 'unknown', architecture: 'unknown' }),
    entry(2, { os: 'linux', architecture: 'arm', variant: 'v7' }),
    entry(3, { os: 'linux', architecture: 'arm64' }),
    entry(4, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    entry(5, { os: 'linux', architecture: 'amd64' }, MediaTypes.dockerManifest),
    entry(6, { os: 'windows', architecture: 'amd64' }),
  ];

  it('picks the matching manifest, an exact variant first', () => {
    expect(choosePlatformManifest(index, parsePlatform('linux/amd64')).digest).toBe(digest(5));
    expect(choosePlatformManifest(index, parsePlatform('linux/arm64/v8')).digest).toBe(digest(4));
    expect(choosePlatformManifest(index, parsePlatform('linux/arm64')).digest).toBe(digest(3));
    expect(choosePlatformManifest(index, parsePlatform('windows/amd64')).digest).toBe(digest(6));
  });

  it('never picks an attestation or a nested index, and says what there is', () => {
    const nested = [entry(7, { os: 'linux', architecture: 'amd64' }, MediaTypes.ociIndex)];
    expect(codeOf(() => choosePlatformManifest(nested, parsePlatform('linux/amd64')))).toBe('PLATFORM_NOT_FOUND');
    try {
      choosePlatformManifest(index, parsePlatform('linux/s390x'));
    } catch (error) {
      expect((error as Error).message).toContain('linux/arm/v7, linux/arm64, linux/arm64/v8, linux/amd64');
    }
  });

  it('parses os/arch[/variant] and nothing else', () => {
    expect(parsePlatform('linux/arm/v7')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(codeOf(() => parsePlatform('linux'))).toBe('INVALID_REFERENCE');
    expect(codeOf(() => parsePlatform('linux/amd64/v1/x'))).toBe('INVALID_REFERENCE');
  });
});

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { digestOf, HashingStream, isDigest, parseDigest, sha256Digest } from './digest.js';

const EMPTY = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ABC = 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'; // FIPS 180-2 "abc"

describe('digests', () => {
  it('hashes bytes and strings with sha256 (known vectors)', () => {
    expect(sha256Digest('')).toBe(EMPTY);
    expect(sha256Digest('abc')).toBe(ABC);
    expect(sha256Digest(Buffer.from('abc'))).toBe(ABC);
  });

  it('accepts only sha256:<64 lowercase hex>', () => {
    expect(isDigest(ABC)).toBe(true);
    expect(parseDigest(ABC)).toEqual({ algorithm: 'sha256', hex: ABC.slice(7) });
    for (const bad of [ABC.toUpperCase(), `${ABC}0`, 'sha256:', 'sha512:' + 'a'.repeat(128), `sha256:${'a'.repeat(63)}/`, 42, undefined]) {
      expect(isDigest(bad)).toBe(false);
      expect(() => parseDigest(bad)).toThrow(expect.objectContaining({ code: 'DIGEST_INVALID' }));
    }
  });

  it('hashes a stream as it passes through, and caps it', async () => {
    const hashing = new HashingStream();
    const out: Buffer[] = [];
    await pipeline(Readable.from([Buffer.from('a'), Buffer.from('bc')]), hashing, async (source) => {
      for await (const chunk of source) out.push(chunk as Buffer);
    });
    expect(hashing.digest()).toBe(ABC);
    expect(hashing.bytes).toBe(3);
    expect(Buffer.concat(out).toString()).toBe('abc');
    await expect(pipeline(Readable.from([Buffer.alloc(10)]), new HashingStream({ maxBytes: 5 }), async (s) => { for await (const _ of s) void _; })).rejects.toMatchObject({ code: 'SIZE_LIMIT' });
    expect(await digestOf(Readable.from([Buffer.from('abc')]))).toEqual({ digest: ABC, bytes: 3 });
  });
});

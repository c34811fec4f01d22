import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { LayerError } from '../errors.js';
import { gzipBombMembers, streamOf, tarOf, type TarFixtureEntry } from '../testing/tar-fixtures.js';
import type { LayerEntryHeader, ReadLayerOptions } from './layer-entry.js';
import { readLayer } from './layer-reader.js';

/** Every entry's header and body text, and the digests. */
async function readAll(bytes: Buffer | Readable, options?: ReadLayerOptions) {
  const reading = readLayer(Buffer.isBuffer(bytes) ? streamOf(bytes) : bytes, options);
  const entries: Array<LayerEntryHeader & { text: string }> = [];
  for await (const { body, ...header } of reading) {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    entries.push({ ...header, text: Buffer.concat(chunks).toString() });
  }
  return { entries, digests: reading.result() };
}

async function rejection(entries: TarFixtureEntry[] | Buffer | Readable, options?: ReadLayerOptions): Promise<LayerError> {
  const bytes = Array.isArray(entries) ? await tarOf(entries) : entries;
  const error = await readAll(bytes, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LayerError);
  return error as LayerError;
}

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('readLayer: normal layers', () => {
  it('normalizes paths and reads bodies, types, modes, owners and times', async () => {
    const mtime = new Date('2023-05-06T07:08:09Z');
    const bytes = await tarOf([
      { name: './', type: 'directory' },
      { name: './etc/', type: 'directory', mode: 0o750, uid: 1000, gid: 1001, mtime },
      { name: './etc/motd', body: 'hello\n', mode: 0o640 },
      { name: '/abs/file', body: 'x' },
      { name: 'etc//double/./slash', body: '' },
      { name: 'etc/link', type: 'symlink', linkname: '../abs/file' },
      { name: 'etc/hard', type: 'link', linkname: './etc/motd' },
      { name: 'etc/pipe', type: 'fifo', mode: 0o600 },
    ]);
    const { entries } = await readAll(bytes);
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ['.', 'dir'],
      ['etc', 'dir'],
      ['etc/motd', 'file'],
      ['abs/file', 'file'],
      ['etc/double/slash', 'file'],
      ['etc/link', 'symlink'],
      ['etc/hard', 'hardlink'],
      ['etc/pipe', 'fifo'],
    ]);
    expect(entries[1]).toMatchObject({ mode: 0o750, uid: 1000, gid: 1001, mtime });
    expect(entries[2]).toMatchObject({ size: 6, text: 'hello\n', mode: 0o640 });
    expect(entries[5].linkname).toBe('../abs/file');
    expect(entries[6].linkname).toBe('etc/motd');
  });

  it('gives diffID, digest and sizes for a plain tar', async () => {
    const bytes = await tarOf([{ name: 'a', body: 'abc' }]);
    const { digests } = await readAll(bytes);
    expect(digests).toEqual({ diffId: sha256(bytes), digest: sha256(bytes), size: bytes.length, uncompressedSize: bytes.length, gzip: false });
  });

  it('detects gzip by its magic bytes: digest is of the blob, diffID of the tar', async () => {
    const plain = await tarOf([{ name: 'a', body: 'abc' }]);
    const blob = gzipSync(plain);
    // split the blob so that the magic bytes arrive in two chunks
    const { entries, digests } = await readAll(streamOf(blob.subarray(0, 1), blob.subarray(1)));
    expect(entries.map((e) => e.text)).toEqual(['abc']);
    expect(digests).toEqual({ diffId: sha256(plain), digest: sha256(blob), size: blob.length, uncompressedSize: plain.length, gzip: true });
  });

  it("hash 'tar': the caller's blob digest is the digest, and a plain layer's diffID; a gzip layer's tar is still hashed", async () => {
    const plain = await tarOf([{ name: 'a', body: 'abc' }]);
    const blob = gzipSync(plain);
    const read = async (bytes: Buffer, blobDigest?: string) => {
      const reading = readLayer(streamOf(bytes.subarray(0, 1), bytes.subarray(1)), { hash: 'tar' });
      for await (const _entry of reading);
      return reading.result(blobDigest);
    };
    // a wrong "caller's digest" shows it is taken as given, not recomputed: the store is the one that hashed the blob
    expect(await read(plain, 'sha256:from-the-store')).toEqual({ diffId: 'sha256:from-the-store', digest: 'sha256:from-the-store', size: plain.length, uncompressedSize: plain.length, gzip: false });
    expect(await read(blob, 'sha256:from-the-store')).toEqual({ diffId: sha256(plain), digest: 'sha256:from-the-store', size: blob.length, uncompressedSize: plain.length, gzip: true });
    await expect(read(plain)).rejects.toThrow(/needs the blob digest/);
  });

  it("hash 'none': entries are checked as ever, and there are no digests to ask for", async () => {
    const reading = readLayer(streamOf(await tarOf([{ name: 'a', body: 'abc' }])), { hash: 'none' });
    const paths: string[] = [];
    for await (const entry of reading) paths.push(entry.path);
    expect(paths).toEqual(['a']);
    expect(() => reading.result()).toThrow(/not asked for/);
    expect((await rejection([{ name: '../escape', body: 'x' }], { hash: 'none' })).code).toBe((await rejection([{ name: '../escape', body: 'x' }])).code);
  });

  it('reports whiteouts and opaque markers, and skips aufs bookkeeping', async () => {
    const { entries } = await readAll(
      await tarOf([
        { name: '.wh.gone' },
        { name: 'dir/', type: 'directory' },
        { name: 'dir/.wh..wh..opq' },
        { name: 'dir/sub/.wh.old' },
        { name: '.wh..wh.plnk/', type: 'directory' },
        { name: '.wh..wh..opq' },
      ]),
    );
    expect(entries.map((e) => [e.path, e.whiteout])).toEqual([
      ['.wh.gone', { of: 'gone' }],
      ['dir', undefined],
      ['dir/.wh..wh..opq', { opaque: 'dir' }],
      ['dir/sub/.wh.old', { of: 'dir/sub/old' }],
      ['.wh..wh..opq', { opaque: '.' }],
    ]);
  });

  it('skips bodies the consumer does not read', async () => {
    const big = Buffer.alloc(300_000, 1);
    const reading = readLayer(streamOf(await tarOf([{ name: 'big', body: big }, { name: 'small', body: 'ok' }])));
    const paths: string[] = [];
    for await (const entry of reading) paths.push(`${entry.path}:${entry.size}`);
    expect(paths).toEqual(['big:300000', 'small:2']);
    expect(reading.result().uncompressedSize).toBeGreaterThan(300_000);
  });

  it('allows absolute symlink targets and relative ones that stay inside', async () => {
    const { entries } = await readAll(
      await tarOf([
        { name: 'etc/abs', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'a/b/c', type: 'symlink', linkname: '../../x' },
      ]),
    );
    expect(entries.map((e) => e.linkname)).toEqual(['/etc/passwd', '../../x']);
  });

  it("keeps setgid on directories even under 'reject'", async () => {
    const { entries } = await readAll(await tarOf([{ name: 'shared/', type: 'directory', mode: 0o2775 }]), { setuid: 'reject' });
    expect(entries[0].mode).toBe(0o2775);
  });

  it("keeps setuid files under 'allow' (the default)", async () => {
    const { entries } = await readAll(await tarOf([{ name: 'bin/su', mode: 0o4755 }]));
    expect(entries[0].mode).toBe(0o4755);
  });
});

describe('readLayer: hostile archives', () => {
  it('refuses ".." in a path (UNSAFE_PATH)', async () => {
    const error = await rejection([{ name: '../../etc/passwd', body: 'pwned' }]);
    expect(error.code).toBe('UNSAFE_PATH');
    expect(error.message).toContain('../../etc/passwd');
  });

  it('refuses ".." in the middle of a path too', async () => {
    expect((await rejection([{ name: 'usr/../../x', body: '' }])).code).toBe('UNSAFE_PATH');
  });

  it('strips a leading "/" from an absolute path, as tar does', async () => {
    const { entries } = await readAll(await tarOf([{ name: '/etc/passwd', body: 'root' }]));
    expect(entries[0].path).toBe('etc/passwd');
  });

  it('refuses a NUL byte in a path (UNSAFE_PATH)', async () => {
    // Long enough for a pax path record, which (unlike the ustar field) keeps the NUL.
    const error = await rejection([{ name: `etc/${'x'.repeat(120)}\0passwd`, body: '' }]);
    expect(error.code).toBe('UNSAFE_PATH');
  });

  it('refuses a non-directory root entry (UNSAFE_PATH)', async () => {
    expect((await rejection([{ name: './', type: 'symlink', linkname: '/' }])).code).toBe('UNSAFE_PATH');
  });

  it('refuses a symlink whose relative target climbs above the root (LINK_ESCAPE)', async () => {
    const error = await rejection([{ name: 'a/b/escape', type: 'symlink', linkname: '../../../etc/shadow' }]);
    expect(error.code).toBe('LINK_ESCAPE');
    expect(error.message).toContain('a/b/escape');
  });

  it('refuses a hard link whose target leaves the root (LINK_ESCAPE)', async () => {
    const error = await rejection([{ name: 'shadow', type: 'link', linkname: '../../etc/shadow' }]);
    expect(error.code).toBe('LINK_ESCAPE');
    expect(error.message).toContain('shadow');
  });

  it('refuses a hard link to the root itself (LINK_ESCAPE)', async () => {
    expect((await rejection([{ name: 'root', type: 'link', linkname: './' }])).code).toBe('LINK_ESCAPE');
  });

  it('refuses a character device (DEVICE_NODE)', async () => {
    const error = await rejection([{ name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1 }]);
    expect(error.code).toBe('DEVICE_NODE');
    expect(error.message).toContain('dev/mem');
  });

  it('refuses a block device (DEVICE_NODE)', async () => {
    expect((await rejection([{ name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 }])).code).toBe('DEVICE_NODE');
  });

  it("refuses a setuid file under 'reject' (SETUID_NOT_ALLOWED)", async () => {
    const error = await rejection([{ name: 'bin/su', mode: 0o4755 }], { setuid: 'reject' });
    expect(error.code).toBe('SETUID_NOT_ALLOWED');
    expect(error.message).toContain('bin/su');
  });

  it("clears setuid and setgid on files under 'strip'", async () => {
    const { entries } = await readAll(await tarOf([{ name: 'bin/su', mode: 0o6755 }, { name: 'tmp/', type: 'directory', mode: 0o1777 }]), { setuid: 'strip' });
    expect(entries.map((e) => e.mode)).toEqual([0o755, 0o1777]);
  });

  it('refuses setuid on a fifo whatever the policy (SETUID_NOT_ALLOWED)', async () => {
    expect((await rejection([{ name: 'p', type: 'fifo', mode: 0o4644 }], { setuid: 'allow' })).code).toBe('SETUID_NOT_ALLOWED');
  });

  it('refuses the same path twice (DUPLICATE_ENTRY)', async () => {
    const error = await rejection([
      { name: 'etc/passwd', body: 'a' },
      { name: './etc/passwd', body: 'b' },
    ]);
    expect(error.code).toBe('DUPLICATE_ENTRY');
    expect(error.message).toContain('etc/passwd');
  });

  it('refuses a path under a file of the same layer (UNSAFE_PATH)', async () => {
    expect((await rejection([{ name: 'f', body: '' }, { name: 'f/child', body: '' }])).code).toBe('UNSAFE_PATH');
  });

  it('refuses a stream that ends inside an entry (TRUNCATED_ARCHIVE)', async () => {
    const whole = await tarOf([{ name: 'big', body: Buffer.alloc(10_000, 7) }]);
    const error = await rejection(whole.subarray(0, 4000));
    expect(error.code).toBe('TRUNCATED_ARCHIVE');
  });

  it('refuses a stream cut between entries, without the end-of-archive block (TRUNCATED_ARCHIVE)', async () => {
    const whole = await tarOf([{ name: 'a', body: 'x' }]);
    expect((await rejection(whole.subarray(0, 1024))).code).toBe('TRUNCATED_ARCHIVE');
  });

  it('refuses a truncated gzip stream (TRUNCATED_ARCHIVE)', async () => {
    const blob = gzipSync(await tarOf([{ name: 'big', body: Buffer.from(Array.from({ length: 50_000 }, (_, i) => i % 251)) }]));
    expect((await rejection(blob.subarray(0, blob.length - 100))).code).toBe('TRUNCATED_ARCHIVE');
  });

  it('refuses bytes that are not a tar (TRUNCATED_ARCHIVE)', async () => {
    const error = await rejection(Buffer.from('this is not a tar archive at all\n'.repeat(40)));
    expect(error.code).toBe('TRUNCATED_ARCHIVE');
  });

  it('refuses an empty stream (TRUNCATED_ARCHIVE)', async () => {
    expect((await rejection(Buffer.alloc(0))).code).toBe('TRUNCATED_ARCHIVE');
  });

  it('refuses an unknown entry type: a GNU sparse file (UNSUPPORTED_ENTRY)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-sparse-'));
    try {
      execFileSync('truncate', ['-s', '1M', join(dir, 'holes')]);
      const bytes = execFileSync('tar', ['--format=gnu', '--sparse', '-C', dir, '-cf', '-', 'holes']);
      const error = await rejection(bytes);
      expect(error.code).toBe('UNSUPPORTED_ENTRY');
      expect(error.message).toContain('holes');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stops a gzip bomb at the cap without inflating it (SIZE_LIMIT)', async () => {
    const members = await gzipBombMembers(4 * 1024 ** 3); // 4 GiB inflated, ~4 MiB of blob
    let served = 0;
    const source = Readable.from(
      (function* () {
        for (const member of members) {
          served++;
          yield member;
        }
      })(),
      { objectMode: false },
    );
    const started = Date.now();
    const error = await rejection(source, { maxUncompressedBytes: 1024 * 1024 });
    expect(error.code).toBe('SIZE_LIMIT');
    expect(served).toBeLessThan(10); // of 257 members
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

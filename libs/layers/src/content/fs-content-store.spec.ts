import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LayerError } from '../errors.js';
import { sha256Digest } from './digest.js';
import { FsContentStore } from './fs-content-store.js';
import { ContentLeases } from './leases.js';

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    if (error instanceof LayerError) return error.code;
    throw error;
  }
  throw new Error('expected a LayerError');
};

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('FsContentStore', () => {
  let root: string;
  let store: FsContentStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-content-'));
    store = await FsContentStore.open(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const ingestIsEmpty = async () => expect(await readdir(join(root, 'ingest'))).toEqual([]);

  it('stores a blob at blobs/sha256/<hex>, read-only, and reads it back', async () => {
    const info = await store.putBytes('hello strata\n');
    expect(info).toEqual({ digest: sha256Digest('hello strata\n'), size: 13 });
    const path = join(root, 'blobs', 'sha256', info.digest.slice(7));
    expect(store.pathOf(info.digest)).toBe(path);
    expect(await readFile(path, 'utf8')).toBe('hello strata\n');
    expect((await stat(path)).mode & 0o777).toBe(0o444);
    expect(await store.has(info.digest)).toBe(true);
    expect(await store.info(info.digest)).toEqual(info);
    expect((await readAll(store.read(info.digest))).toString()).toBe('hello strata\n');
    expect((await store.readBytes(info.digest)).toString()).toBe('hello strata\n');
    await ingestIsEmpty();
  });

  it('accepts bytes that match the expected digest and size', async () => {
    const bytes = Buffer.from('verified');
    const info = await store.put(Readable.from([bytes]), { expectedDigest: sha256Digest(bytes), expectedSize: bytes.length });
    expect(info.digest).toBe(sha256Digest(bytes));
  });

  it('refuses bytes that do not hash to the expected digest, and leaves nothing behind', async () => {
    const claimed = sha256Digest('something else');
    expect(await codeOf(store.putBytes('the real bytes', { expectedDigest: claimed }))).toBe('DIGEST_MISMATCH');
    expect(await store.has(claimed)).toBe(false);
    expect(await store.has(sha256Digest('the real bytes'))).toBe(false);
    expect(await readdir(join(root, 'blobs', 'sha256'))).toEqual([]);
    await ingestIsEmpty();
  });

  it('putFile moves a checked file into place (read-only, same bytes), and leaves a refused one to the caller', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17); // more than one of putFile's 1 MiB reads
    const upload = join(root, 'upload-1');
    await writeFile(upload, bytes, { mode: 0o600 });
    const leases = new ContentLeases();
    const lease = leases.acquire();
    const info = await store.putFile(upload, { expectedDigest: sha256Digest(bytes), maxSize: bytes.length, lease });
    expect(info).toEqual({ digest: sha256Digest(bytes), size: bytes.length });
    expect(leases.isHeld(info.digest)).toBe(true);
    expect(await readFile(store.pathOf(info.digest))).toEqual(bytes);
    expect((await stat(store.pathOf(info.digest))).mode & 0o777).toBe(0o444);
    await expect(stat(upload)).rejects.toMatchObject({ code: 'ENOENT' });
    // refused: wrong digest, too big; the file stays where it was and nothing enters the store
    const other = join(root, 'upload-2');
    await writeFile(other, 'not what was announced');
    expect(await codeOf(store.putFile(other, { expectedDigest: sha256Digest('announced') }))).toBe('DIGEST_MISMATCH');
    expect(await codeOf(store.putFile(other, { maxSize: 4 }))).toBe('SIZE_LIMIT');
    expect(await readFile(other, 'utf8')).toBe('not what was announced');
    expect(await store.has(sha256Digest('not what was announced'))).toBe(false);
    // a blob the store has already: the file is removed, the blob kept
    const again = join(root, 'upload-3');
    await writeFile(again, bytes);
    expect(await store.putFile(again, { expectedDigest: info.digest })).toEqual(info);
    await expect(stat(again)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(store.pathOf(info.digest))).toEqual(bytes);
  });

  it('refuses a blob shorter or longer than announced', async () => {
    expect(await codeOf(store.putBytes('12345', { expectedSize: 6 }))).toBe('SIZE_MISMATCH');
    expect(await codeOf(store.putBytes('12345', { expectedSize: 4 }))).toBe('SIZE_MISMATCH');
    await ingestIsEmpty();
  });

  it('aborts as soon as a stream passes maxSize, without reading the rest', async () => {
    let produced = 0;
    const endless = async function* () {
      for (;;) {
        produced += 64 * 1024;
        yield Buffer.alloc(64 * 1024, 7);
      }
    };
    expect(await codeOf(store.put(endless(), { maxSize: 1024 * 1024 }))).toBe('SIZE_LIMIT');
    expect(produced).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
    expect(await readdir(join(root, 'blobs', 'sha256'))).toEqual([]);
    await ingestIsEmpty();
  });

  it('leaves no temp file when the source stream fails', async () => {
    const failing = async function* () {
      yield Buffer.from('partial');
      throw new Error('connection reset');
    };
    await expect(store.put(failing())).rejects.toThrow('connection reset');
    await ingestIsEmpty();
  });

  it('stores a blob once when many puts of it race', async () => {
    const bytes = randomBytes(300 * 1024);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => store.put(Readable.from([bytes]), i % 2 ? { expectedDigest: sha256Digest(bytes) } : {})));
    expect(new Set(results.map((r) => r.digest))).toEqual(new Set([sha256Digest(bytes)]));
    expect(await readdir(join(root, 'blobs', 'sha256'))).toEqual([sha256Digest(bytes).slice(7)]);
    expect((await store.readBytes(sha256Digest(bytes))).equals(bytes)).toBe(true);
    await ingestIsEmpty();
  });

  it('treats a put of a blob it has as a no-op that still checks the bytes', async () => {
    const info = await store.putBytes('same');
    const path = store.pathOf(info.digest);
    const old = new Date('2020-01-01T00:00:00Z');
    await utimes(path, old, old);
    expect(await store.putBytes('same', { expectedDigest: info.digest })).toEqual(info);
    expect((await stat(path)).mtime.getTime()).toBeGreaterThan(old.getTime()); // back inside prune's grace period
    expect(await codeOf(store.putBytes('not the same', { expectedDigest: info.digest }))).toBe('DIGEST_MISMATCH');
    expect((await store.readBytes(info.digest)).toString()).toBe('same');
    await ingestIsEmpty();
  });

  it('registers the digest with a lease before the blob is visible', async () => {
    const leases = new ContentLeases();
    const lease = leases.acquire();
    const info = await store.putBytes('leased', { lease });
    expect(leases.isHeld(info.digest)).toBe(true);
    lease.release();
    expect(leases.isHeld(info.digest)).toBe(false);
  });

  it('reads byte ranges like HTTP Range (inclusive end, clamped)', async () => {
    const info = await store.putBytes('0123456789');
    expect((await readAll(store.read(info.digest, { start: 2, end: 5 }))).toString()).toBe('2345');
    expect((await readAll(store.read(info.digest, { start: 7 }))).toString()).toBe('789');
    expect((await readAll(store.read(info.digest, { start: 8, end: 100 }))).toString()).toBe('89');
    expect(await codeOf(readAll(store.read(info.digest, { start: 10 })))).toBe('RANGE_INVALID');
    expect(() => store.read(info.digest, { start: 5, end: 2 })).toThrow(LayerError);
  });

  it('reads a large blob in order across chunks', async () => {
    const bytes = randomBytes(1024 * 1024 + 17);
    const info = await store.putBytes(bytes);
    // (Buffer.equals: vitest's deep equality walks a megabyte byte by byte, slowly)
    expect((await readAll(store.read(info.digest))).equals(bytes)).toBe(true);
    expect((await readAll(store.read(info.digest, { start: 65_530, end: 200_000 }))).equals(bytes.subarray(65_530, 200_001))).toBe(true);
  });

  it('answers BLOB_UNKNOWN for a blob it does not have', async () => {
    const missing = sha256Digest('missing');
    expect(await store.has(missing)).toBe(false);
    expect(await store.info(missing)).toBeUndefined();
    expect(await codeOf(readAll(store.read(missing)))).toBe('BLOB_UNKNOWN');
    expect(await codeOf(store.readBytes(missing))).toBe('BLOB_UNKNOWN');
    expect(await store.delete(missing)).toBe(false);
  });

  it('caps what readBytes and readJson hold in memory', async () => {
    const big = await store.putBytes(Buffer.alloc(5 * 1024 * 1024));
    expect(await codeOf(store.readBytes(big.digest))).toBe('SIZE_LIMIT');
    expect((await store.readBytes(big.digest, 6 * 1024 * 1024)).length).toBe(5 * 1024 * 1024);
    const json = await store.putBytes('{"a":[1,2]}');
    expect(await store.readJson(json.digest)).toEqual({ a: [1, 2] });
    expect(await codeOf(store.readJson(json.digest, 4))).toBe('SIZE_LIMIT');
    const notJson = await store.putBytes('{nope');
    expect(await codeOf(store.readJson(notJson.digest))).toBe('JSON_INVALID');
  });

  it.each(['sha256:../../etc/passwd', 'sha256:ABC', 'md5:d41d8cd98f00b204e9800998ecf8427e', `sha256:${'a'.repeat(63)}`, `sha256:${'a'.repeat(64)}/x`, ''])(
    'never builds a path from the invalid digest %j',
    async (digest) => {
      expect(() => store.pathOf(digest)).toThrow(expect.objectContaining({ code: 'DIGEST_INVALID' }));
      expect(() => store.read(digest)).toThrow(expect.objectContaining({ code: 'DIGEST_INVALID' }));
      expect(() => store.delete(digest)).toThrow(expect.objectContaining({ code: 'DIGEST_INVALID' }));
      expect(await codeOf(store.has(digest))).toBe('DIGEST_INVALID');
      expect(await codeOf(store.readBytes(digest))).toBe('DIGEST_INVALID');
      expect(await codeOf(store.putBytes('x', { expectedDigest: digest }))).toBe('DIGEST_INVALID');
    },
  );

  it('deletes blobs and lists what it holds with mtimes', async () => {
    const a = await store.putBytes('a');
    const b = await store.putBytes('b');
    await writeFile(join(root, 'blobs', 'sha256', 'not-a-digest'), 'stray');
    const listed = [];
    for await (const blob of store.list()) listed.push(blob);
    expect(listed.map((x) => x.digest).sort()).toEqual([a.digest, b.digest].sort());
    expect(listed.every((x) => x.modifiedAt instanceof Date && x.size === 1)).toBe(true);
    expect(await store.delete(a.digest)).toBe(true);
    expect(await store.delete(a.digest)).toBe(false);
    expect(await store.has(a.digest)).toBe(false);
  });

  it('removes temp files a crash left in ingest/ when opened, and only stale ones', async () => {
    const stale = join(root, 'ingest', 'crashed.tmp');
    const live = join(root, 'ingest', 'uploading.tmp');
    await writeFile(stale, 'half a layer');
    await writeFile(live, 'an upload in progress');
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(stale, old, old);
    await FsContentStore.open(root);
    expect(await readdir(join(root, 'ingest'))).toEqual(['uploading.tmp']);
  });

  it('streams a 50 MiB put without holding it in memory', async () => {
    const chunk = randomBytes(64 * 1024);
    const chunks = 800; // 50 MiB
    const expected = createHash('sha256');
    for (let i = 0; i < chunks; i++) expected.update(chunk);
    const used = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = used();
    let peak = before;
    const source = async function* () {
      for (let i = 0; i < chunks; i++) {
        peak = Math.max(peak, used());
        yield chunk; // the same buffer every time: anything that kept chunks would keep 50 MiB
      }
    };
    const info = await store.put(source(), { expectedSize: chunks * chunk.length });
    expect(info).toEqual({ digest: `sha256:${expected.digest('hex')}`, size: 50 * 1024 * 1024 });
    expect((await stat(store.pathOf(info.digest))).size).toBe(50 * 1024 * 1024);
    // Loose: garbage may linger between collections, but nowhere near the 50 MiB that went through.
    expect(peak - before).toBeLessThan(32 * 1024 * 1024);
  });
});

/**
 * Archive transfers of the HTTP client against the fake node: uploads streamed from disk (exact bytes,
 * in pieces, never retried), downloads returned as streams that fail loudly when cut off.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { StrataClient } from './client.js';
import { LocalError, ProblemError, ProtocolError, UnreachableError } from './errors.js';
import { sendJson, sendProblem, startFakeNode, type FakeNode, type Handler } from './testing/fake-node.js';
import { tempDir } from './testing/temp-dir.js';

let node: FakeNode | undefined;
afterEach(async () => {
  await node?.close();
  node = undefined;
});

async function fake(handler: Handler, timeoutMs = 3000) {
  node = await startFakeNode(handler);
  return { node, client: new StrataClient({ url: node.url, token: 'tok-123', retryDelayMs: 5, timeoutMs }) };
}

const dir = () => tempDir('strata-cli-transfer-');

/** Bytes that differ everywhere, so a reordered or dropped piece cannot go unnoticed. */
function pattern(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) bytes.writeUInt32LE(i >>> 0, i);
  return bytes;
}

const ok: Handler = (_q, res) => sendJson(res, 201, { ok: true });

describe('upload', () => {
  it('streams a 20 MB file from disk: the node gets the exact bytes, sent in many pieces', async () => {
    const file = join(dir(), 'rootfs.tar');
    const content = pattern(20 * 1024 * 1024);
    writeFileSync(file, content);
    const { node, client } = await fake(ok);
    const progress: number[] = [];
    const reply = await client.upload('/images/import', { tag: 'app:1', source: 'rootfs.tar' }, file, (sent, total) => {
      expect(total).toBe(content.length);
      progress.push(sent);
    });
    expect(reply).toEqual({ ok: true });
    const [req] = node.requests;
    expect(req!.bytes.equals(content)).toBe(true);
    expect(req!.url).toBe('/images/import?tag=app%3A1&source=rootfs.tar');
    expect(req!.headers['content-type']).toBe('application/x-tar');
    expect(req!.headers.authorization).toBe('Bearer tok-123');
    expect(req!.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    // Streamed, not read whole: the file went out piece by piece (each at most the read buffer), and
    // the request had no length known in advance.
    expect(progress.length).toBeGreaterThanOrEqual(20);
    expect(Math.max(...progress.map((p, i) => p - (progress[i - 1] ?? 0)))).toBeLessThanOrEqual(256 * 1024);
    expect(progress.at(-1)).toBe(content.length);
    expect(req!.headers['transfer-encoding']).toBe('chunked');
    expect(req!.chunks).toBeGreaterThan(1);
  });

  it('sends gzip as application/gzip (by its magic number, not its name)', async () => {
    const file = join(dir(), 'layer.tar');
    const gz = gzipSync(pattern(4096));
    writeFileSync(file, gz);
    const { node, client } = await fake(ok);
    await client.upload('/images/import', {}, file);
    expect(node.requests[0]!.headers['content-type']).toBe('application/gzip');
    expect(node.requests[0]!.bytes.equals(gz)).toBe(true);
  });

  it('sniffs a stream whose first piece is a single byte', async () => {
    const gz = gzipSync(Buffer.from('hello'));
    async function* pieces() {
      yield gz.subarray(0, 1);
      yield gz.subarray(1, 5);
      yield gz.subarray(5);
    }
    const { node, client } = await fake(ok);
    await client.upload('/images/load', {}, { chunks: pieces(), size: null });
    expect(node.requests[0]!.headers['content-type']).toBe('application/gzip');
    expect(node.requests[0]!.bytes.equals(gz)).toBe(true);
  });

  it('a problem answer is a ProblemError', async () => {
    const file = join(dir(), 'x.tar');
    writeFileSync(file, pattern(1024));
    const { client } = await fake((_q, res) => sendProblem(res, 422, 'INVALID_ARCHIVE', 'not a tar archive'));
    const error = await client.upload('/images/import', {}, file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemError);
    expect((error as ProblemError).code).toBe('INVALID_ARCHIVE');
  });

  it('is never retried: a connection dropped after the body was sent fails once', async () => {
    const file = join(dir(), 'x.tar');
    writeFileSync(file, pattern(64 * 1024));
    const { node, client } = await fake((_q, res) => void res.socket?.destroy());
    await expect(client.upload('/images/import', {}, file)).rejects.toBeInstanceOf(UnreachableError);
    expect(node.requests).toHaveLength(1);
  });

  it('gives up when nothing moves for the timeout', async () => {
    const file = join(dir(), 'x.tar');
    writeFileSync(file, pattern(1024));
    const { client } = await fake(() => undefined, 200);
    await expect(client.upload('/images/import', {}, file)).rejects.toThrow(/no progress within 0.2 s after 1024 bytes sent/);
  });

  it('a source that fails is reported as itself, not as an unreachable node', async () => {
    async function* failing() {
      yield Buffer.from('tar');
      throw new LocalError('the layout changed');
    }
    const { client } = await fake(ok);
    await expect(client.upload('/images/load', {}, { chunks: failing(), size: null })).rejects.toThrow(LocalError);
  });
});

describe('download', () => {
  const collect = async (stream: AsyncIterable<Buffer>) => {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    return Buffer.concat(chunks);
  };

  it('returns the bytes as a stream, with the query and the token', async () => {
    const tar = pattern(300_000);
    const { node, client } = await fake((_q, res) => void res.writeHead(200, { 'content-type': 'application/x-tar' }).end(tar));
    const stream = await client.download('/images/save', { ref: ['app:1', 'app:2'] });
    expect((await collect(stream)).equals(tar)).toBe(true);
    expect(node.requests[0]!.url).toBe('/images/save?ref=app%3A1&ref=app%3A2');
    expect(node.requests[0]!.headers.authorization).toBe('Bearer tok-123');
  });

  it('a problem answer fails before any byte', async () => {
    const { client } = await fake((_q, res) => sendProblem(res, 404, 'IMAGE_NOT_FOUND', 'no such image: ghost'));
    await expect(client.download('/images/save', { ref: 'ghost' })).rejects.toBeInstanceOf(ProblemError);
  });

  it('a stream cut off midway fails with a ProtocolError', async () => {
    const { client } = await fake((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/x-tar' });
      res.write(pattern(10_000), () => setTimeout(() => res.destroy(), 20));
    });
    const stream = await client.download('/images/save', { ref: 'app:1' });
    await expect(collect(stream)).rejects.toBeInstanceOf(ProtocolError);
  });
});

/**
 * What the HTTP client gained for containers: per-request time limits (a `wait` lasts as long as the
 * container), NDJSON lines as they arrive (logs), and a PUT of plain bytes (cp).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StrataClient } from './client.js';
import { ProblemError, ProtocolError, UnreachableError } from './errors.js';
import { sendJson, sendNdjson, sendProblem, startFakeNode, type FakeNode, type Handler } from './testing/fake-node.js';
import { tempDir } from './testing/temp-dir.js';

let node: FakeNode | undefined;
afterEach(async () => {
  await node?.close();
  node = undefined;
});

async function fake(handler: Handler, timeoutMs = 3000) {
  node = await startFakeNode(handler);
  return { node, client: new StrataClient({ url: node.url, token: 'tok', retryDelayMs: 5, timeoutMs }) };
}

const later = (ms: number): Handler => (_q, res) => void setTimeout(() => sendJson(res, 200, { exitCode: 0 }), ms);

describe('time limits per request', () => {
  it('timeoutMs: Infinity waits as long as the answer takes; the default limit does not', async () => {
    const { client } = await fake(later(300), 100);
    await expect(client.invoke('POST', '/containers/web/wait')).rejects.toThrow(UnreachableError);
    await expect(client.invoke('POST', '/containers/web/wait', undefined, undefined, { timeoutMs: Infinity })).resolves.toEqual({ exitCode: 0 });
  });

  it('extraMs is added to the limit (stop -t)', async () => {
    const { client } = await fake(later(300), 100);
    await expect(client.invoke('POST', '/containers/web/stop', undefined, { t: 1 }, { extraMs: 1000 })).resolves.toEqual({ exitCode: 0 });
  });
});

describe('lines (NDJSON)', () => {
  const collect = async <T>(lines: AsyncIterable<T>) => {
    const all: T[] = [];
    for await (const line of lines) all.push(line);
    return all;
  };

  it('yields each line parsed, with the query', async () => {
    const { node, client } = await fake((_q, res) => sendNdjson(res, [{ line: 'a' }, { line: 'b' }]));
    expect(await collect(client.lines('/containers/web/logs', { tail: 2, follow: true }))).toEqual([{ line: 'a' }, { line: 'b' }]);
    expect(node.requests[0]!.url).toBe('/containers/web/logs?tail=2&follow=true');
    expect(node.requests[0]!.headers.accept).toBe('application/x-ndjson, application/problem+json');
  });

  it('a refusal before the stream, or a problem line within it, is a ProblemError', async () => {
    const { client } = await fake((q, res) =>
      q.path.includes('ghost')
        ? sendProblem(res, 404, 'CONTAINER_NOT_FOUND', 'no such container: ghost')
        : sendNdjson(res, [{ line: 'a' }, { type: 'about:blank', title: 'x', status: 500, code: 'LOG_READ_FAILED', detail: 'the log file vanished' }]),
    );
    await expect(collect(client.lines('/containers/ghost/logs'))).rejects.toThrow(ProblemError);
    await expect(collect(client.lines('/containers/web/logs'))).rejects.toThrow('the log file vanished');
  });

  it('a stream cut off, or a line that is not JSON, is a ProtocolError', async () => {
    const { client } = await fake((q, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      if (q.path.includes('bad')) return void res.end('{"line":\n');
      res.write('{"line":"a"}\n', () => setTimeout(() => res.destroy(), 20));
    });
    await expect(collect(client.lines('/containers/web/logs'))).rejects.toThrow(ProtocolError);
    await expect(collect(client.lines('/containers/bad/logs'))).rejects.toThrow(/not JSON/);
  });
});

describe('upload as PUT of plain bytes', () => {
  it('method and content type as asked, the bytes as they are', async () => {
    const file = join(tempDir('strata-cli-put-'), 'f');
    const bytes = Buffer.from([0x1f, 0x8b, 1, 2, 3]); // gzip's magic number: not sniffed when a type is given
    writeFileSync(file, bytes);
    const { node, client } = await fake((_q, res) => sendJson(res, 200, { ok: true }));
    await client.upload('/containers/web/files', { path: '/f' }, file, undefined, { method: 'PUT', contentType: 'application/octet-stream' });
    expect(node.requests[0]).toMatchObject({ method: 'PUT', url: '/containers/web/files?path=%2Ff' });
    expect(node.requests[0]!.headers['content-type']).toBe('application/octet-stream');
    expect(node.requests[0]!.bytes.equals(bytes)).toBe(true);
  });
});

/**
 * `strata cp` both ways and `strata commit`, in-process against the fake node: the bytes sent and
 * received, what lands on disk (whole or not at all), what is printed, the exit codes.
 */
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommitReply } from '@strata/api';
import { parseCopyEnd } from './commands/container-cp.js';
import { cliHarness, containerReply, containerView, imageView } from './testing/cli-harness.js';
import { sendJson, sendProblem, type Handler } from './testing/fake-node.js';
import { tempDir } from './testing/temp-dir.js';

const cli = cliHarness();
afterEach(() => cli.close());
const { strata } = cli;

const dir = () => tempDir('strata-cli-cp-');
function file(name: string, content: Buffer, mode = 0o644): string {
  const path = join(dir(), name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

/** Bytes that differ everywhere, so a reordered or dropped piece cannot go unnoticed. */
function pattern(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) bytes.writeUInt32LE(i >>> 0, i);
  return bytes;
}

const web = containerView('a', { name: 'web' });
const putReply: Handler = (_q, res) => sendJson(res, 200, containerReply(web));

describe('parseCopyEnd', () => {
  it("reads arguments as docker cp does", () => {
    expect(parseCopyEnd('-')).toEqual({ kind: 'stdio' });
    expect(parseCopyEnd('web:/etc/motd')).toEqual({ kind: 'container', ref: 'web', path: '/etc/motd' });
    expect(parseCopyEnd('web:etc/motd')).toEqual({ kind: 'container', ref: 'web', path: '/etc/motd' });
    expect(parseCopyEnd('./a:b')).toEqual({ kind: 'local', path: './a:b' });
    expect(parseCopyEnd('/tmp/a:b')).toEqual({ kind: 'local', path: '/tmp/a:b' });
    expect(parseCopyEnd('app.conf')).toEqual({ kind: 'local', path: 'app.conf' });
    expect(parseCopyEnd(':x')).toEqual({ kind: 'local', path: ':x' });
  });
});

describe('cp into a container', () => {
  it('streams the file as application/octet-stream (even gzip bytes) with its path and mode', async () => {
    const content = Buffer.concat([gzipSync(Buffer.from('x')), pattern(2 * 1024 * 1024)]);
    const path = file('app.conf', content, 0o640);
    const r = await strata(['cp', path, 'web:/etc/app.conf'], putReply);
    expect(r).toMatchObject({ code: 0, out: '', err: 'Successfully copied 2.1MB to web:/etc/app.conf\n' });
    const [req] = r.requests;
    expect(req).toMatchObject({ method: 'PUT', url: '/containers/web/files?path=%2Fetc%2Fapp.conf&mode=640' });
    expect(req!.headers['content-type']).toBe('application/octet-stream');
    expect(req!.headers['idempotency-key']).toBeTruthy();
    expect(req!.headers['transfer-encoding']).toBe('chunked');
    expect(req!.chunks).toBeGreaterThan(1);
    expect(req!.bytes.equals(content)).toBe(true);
  });

  it('a directory as destination keeps the name; a relative path is from the root; -q is quiet; --json prints the container', async () => {
    const path = file('app.conf', Buffer.from('a=1\n'), 0o4755);
    const r = await strata(['container', 'cp', '-q', path, 'web:etc/'], putReply);
    expect(r).toMatchObject({ code: 0, out: '', err: '' });
    expect(r.requests[0]!.url).toBe('/containers/web/files?path=%2Fetc%2Fapp.conf&mode=4755');
    const json = await strata(['--json', 'cp', path, 'web:/srv/conf'], putReply);
    expect(JSON.parse(json.out)).toEqual(web);
  });

  it('- reads the bytes from stdin (no mode: the node chooses)', async () => {
    const r = await strata(['cp', '-', 'web:/greeting'], putReply, { stdin: Readable.from([Buffer.from('hel'), Buffer.from('lo\n')]) });
    expect(r.code).toBe(0);
    expect(r.requests[0]!.url).toBe('/containers/web/files?path=%2Fgreeting');
    expect(r.requests[0]!.body).toBe('hello\n');
    expect(r.requests[0]!.headers['content-type']).toBe('application/octet-stream');
  });

  it('a refused path: exit 1 with the problem', async () => {
    const path = file('x', Buffer.from('x'));
    const r = await strata(['cp', path, 'web:/../../etc/passwd'], (_q, res) => sendProblem(res, 400, 'PATH_ESCAPES_ROOT', 'the path /../../etc/passwd leaves the container'));
    expect(r).toMatchObject({ code: 1, err: 'error: the path /../../etc/passwd leaves the container (PATH_ESCAPES_ROOT)\n' });
  });
});

describe('cp out of a container', () => {
  const content = pattern(300_000);
  const getReply: Handler = (_q, res) => void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(content);

  it('to a file: written whole, then renamed; nothing else left in the directory', async () => {
    const out = join(dir(), 'motd');
    const r = await strata(['cp', 'web:/etc/motd', out], getReply);
    expect(r).toMatchObject({ code: 0, out: '', err: `Successfully copied 300kB to ${out}\n` });
    expect(r.requests[0]).toMatchObject({ method: 'GET', url: '/containers/web/files?path=%2Fetc%2Fmotd' });
    expect(readFileSync(out).equals(content)).toBe(true);
    expect(readdirSync(join(out, '..'))).toEqual(['motd']);
  });

  it('to a directory: under the file\'s own name; --json says what went where', async () => {
    const folder = dir();
    const r = await strata(['--json', 'cp', 'web:/etc/motd', folder], getReply);
    expect(readFileSync(join(folder, 'motd')).equals(content)).toBe(true);
    expect(JSON.parse(r.out)).toEqual({ source: 'web:/etc/motd', output: join(folder, 'motd'), bytes: content.length });
  });

  it('- writes the bytes to stdout', async () => {
    const r = await strata(['cp', 'web:/etc/motd', '-'], getReply);
    expect(r.code).toBe(0);
    expect(r.outBytes.equals(content)).toBe(true);
    expect(r.err).toBe('');
  });

  it('a download cut off midway leaves no file and no temporary one, exit 1', async () => {
    const folder = dir();
    const out = join(folder, 'motd');
    const r = await strata(['cp', 'web:/etc/motd', out], (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(pattern(50_000), () => setTimeout(() => res.destroy(), 20));
    });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: the download of \/containers\/web\/files was cut off/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(folder)).toEqual([]);
  });

  it('a missing file does not replace an earlier one', async () => {
    const out = file('motd', Buffer.from('the good one'));
    const r = await strata(['cp', 'web:/etc/nope', out], (_q, res) => sendProblem(res, 404, 'FILE_NOT_FOUND', 'no /etc/nope in web'));
    expect(r).toMatchObject({ code: 1, err: 'error: no /etc/nope in web (FILE_NOT_FOUND)\n' });
    expect(readFileSync(out, 'utf8')).toBe('the good one');
    expect(readdirSync(join(out, '..'))).toEqual(['motd']);
  });
});

describe('cp usage errors', () => {
  it('exit 2 and nothing sent', async () => {
    const folder = dir();
    const local = file('a', Buffer.from('a'));
    const tty = Object.assign(Readable.from([]), { isTTY: true });
    for (const [args, message] of [
      [['cp', local, join(folder, 'b')], /one side must be a container path/],
      [['cp', '-', '-'], /one side must be a container path/],
      [['cp', 'web:/a', 'db:/a'], /from one container to another/],
      [['cp', local, 'web:'], /give the path inside the container/],
      [['cp', join(folder, 'nope'), 'web:/a'], /no such file/],
      [['cp', folder, 'web:/a'], /a directory; cp copies one file at a time/],
      [['cp', '-', 'web:/a'], /stdin is a terminal/],
      [['cp', '-', 'web:/etc/'], /stdin has no file name/],
      [['cp', 'web:/a', join(folder, 'missing') + '/'], /no such directory/],
      [['cp', 'web:/a'], /missing required argument/],
    ] as const) {
      const r = await strata([...args], () => undefined, { stdin: tty });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(message);
    }
    expect(cli.requests()).toHaveLength(0);
  });
});

describe('commit', () => {
  const committed: CommitReply = { image: imageView('9', { tags: ['demo/app:1'], origin: 'commit' }), commands: [], position: 30 };
  const commitReply: Handler = (_q, res) => sendJson(res, 201, committed);

  it('POSTs the tag, author, message, changes and pause; prints the new image id', async () => {
    const r = await strata(
      ['commit', '-a', 'Jane <jane@example.com>', '-m', 'add greeting', '-c', 'CMD ["cat", "/greeting"]', '--change', 'ENV A=1', 'web', 'demo/app:1'],
      commitReply,
    );
    expect(r).toMatchObject({ code: 0, out: `${committed.image.imageId}\n`, err: '' });
    expect(r.requests[0]).toMatchObject({ method: 'POST', url: '/containers/web/commit' });
    expect(JSON.parse(r.requests[0]!.body)).toEqual({
      tag: 'demo/app:1',
      author: 'Jane <jane@example.com>',
      message: 'add greeting',
      changes: ['CMD ["cat", "/greeting"]', 'ENV A=1'],
      pause: true,
    });
  });

  it('a tag without :tag is latest; no tag, no tag; --no-pause; --json prints the CommitReply', async () => {
    await strata(['container', 'commit', 'web', 'demo/app'], commitReply);
    const json = await strata(['--json', 'commit', '--no-pause', 'web'], commitReply);
    expect(JSON.parse(json.out)).toEqual(committed);
    expect(cli.requests().map((q) => JSON.parse(q.body) as unknown)).toEqual([{ tag: 'demo/app:latest', pause: true }, { pause: false }]);
  });

  it('a removed container: exit 1 with the problem; a bad tag: exit 2, nothing sent', async () => {
    const r = await strata(['commit', 'gone'], (_q, res) => sendProblem(res, 409, 'CONTAINER_REMOVED', 'container gone is removed'));
    expect(r).toMatchObject({ code: 1, err: 'error: container gone is removed (CONTAINER_REMOVED)\n' });
    const usage = await strata(['commit', 'web', 'demo/app:.bad'], () => undefined);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/invalid tag/);
    expect(cli.requests()).toHaveLength(1);
  });
});

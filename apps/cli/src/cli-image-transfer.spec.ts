/**
 * `strata import`, `load` and `save` run in-process against the fake node: what is uploaded, what is
 * printed (human and --json), what lands on disk, and the exit codes.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { ImportImageReply, LoadImageReply } from '@strata/api';
import { cliHarness, imageView } from './testing/cli-harness.js';
import { digest, sendJson, sendProblem, type Handler } from './testing/fake-node.js';
import { BLOB_HEX, makeLayout, readTar } from './testing/layout-fixtures.js';
import { tempDir } from './testing/temp-dir.js';

const cli = cliHarness();
afterEach(() => cli.close());
const { strata } = cli;

const dir = () => tempDir('strata-cli-io-');

function file(name: string, content: Buffer): string {
  const path = join(dir(), name);
  writeFileSync(path, content);
  return path;
}

const imported: ImportImageReply = { image: imageView('3', { tags: ['app:1.0'] }), commands: [], position: 42 };
const importReply: Handler = (_q, res) => sendJson(res, 201, imported);

const loaded = (refNames: (string | null)[]): LoadImageReply => ({
  images: refNames.map((refName, i) => ({ image: imageView(String(i + 4)), refName, created: true })),
  commands: [],
  position: 50,
});

describe('import', () => {
  it('streams the file with its tag, name and message; prints the short id and the tag', async () => {
    const tar = Buffer.alloc(3000, 7);
    const path = file('rootfs.tar', tar);
    const r = await strata(['import', path, 'app:1.0', '-m', 'nightly build'], importReply);
    expect(r.code).toBe(0);
    expect(r.out).toBe('imported 333333333333 as app:1.0 at position 42\n');
    // No terminal: no bar, one line at the end.
    expect(r.err).toBe('import: sent 3kB\n');
    const [req] = r.requests;
    expect(req).toMatchObject({ method: 'POST', path: '/images/import' });
    expect(Object.fromEntries(req!.query)).toEqual({ tag: 'app:1.0', source: 'rootfs.tar', message: 'nightly build' });
    expect(req!.bytes.equals(tar)).toBe(true);
    expect(req!.headers['content-type']).toBe('application/x-tar');
    expect(req!.headers['idempotency-key']).toBeTruthy();
  });

  it('--json prints the ImportImageReply; a gzip file goes as application/gzip; no tag means untagged', async () => {
    const path = file('rootfs.tar.gz', gzipSync(Buffer.alloc(1000)));
    const r = await strata(['--json', 'import', path], importReply);
    expect(JSON.parse(r.out)).toEqual(imported);
    expect(r.requests[0]!.headers['content-type']).toBe('application/gzip');
    expect(r.requests[0]!.query.has('tag')).toBe(false);

    const human = await strata(['import', path, '-q'], importReply);
    expect(human.out).toBe('imported 333333333333 (untagged) at position 42\n');
    expect(human.err).toBe('');
  });

  it('a tag without :tag means latest; - reads stdin', async () => {
    const tar = Buffer.from('a tar on stdin');
    const r = await strata(['import', '-', 'app'], importReply, { stdin: Readable.from([tar]) });
    expect(r.code).toBe(0);
    expect(r.requests[0]!.query.get('tag')).toBe('app:latest');
    expect(r.requests[0]!.query.has('source')).toBe(false);
    expect(r.requests[0]!.bytes.equals(tar)).toBe(true);
  });

  it('draws a progress bar on a terminal', async () => {
    const path = file('rootfs.tar', Buffer.alloc(50_000));
    const r = await strata(['import', path], importReply, { stderrTTY: true });
    expect(r.code).toBe(0);
    expect(r.err).toContain('import [');
    expect(r.err).toContain('100%');
  });

  it('a refused archive: the problem on stderr, exit 1', async () => {
    const path = file('rootfs.tar', Buffer.alloc(512));
    const r = await strata(['import', path], (_q, res) => sendProblem(res, 422, 'INVALID_LAYER', 'entry "../etc/passwd" escapes the root'));
    expect(r).toMatchObject({ code: 1, out: '', err: 'error: entry "../etc/passwd" escapes the root (INVALID_LAYER)\n' });
  });
});

describe('load', () => {
  it('uploads a tar as it is and prints Docker\'s lines', async () => {
    const tar = Buffer.alloc(2048, 3);
    const path = file('busybox.tar', tar);
    const r = await strata(['load', '-i', path], (_q, res) => sendJson(res, 201, loaded(['busybox:1.36', 'latest', null])));
    expect(r.code).toBe(0);
    expect(r.out).toBe(`Loaded image: busybox:1.36\nLoaded image ID: ${digest('5')}\nLoaded image ID: ${digest('6')}\n`);
    expect(r.requests[0]).toMatchObject({ method: 'POST', path: '/images/load' });
    expect(r.requests[0]!.bytes.equals(tar)).toBe(true);
    expect(r.err).toBe('load: sent 2.05kB\n');
  });

  it('a directory goes as a tar of the layout built on the fly; --tag names the image', async () => {
    const layout = makeLayout();
    const r = await strata(['load', '-i', layout, '--tag', 'busybox:1.36'], (_q, res) => sendJson(res, 201, loaded(['latest'])));
    expect(r.code).toBe(0);
    expect(r.out).toBe('Loaded image: busybox:1.36\n');
    const [req] = r.requests;
    expect(req!.query.get('tag')).toBe('busybox:1.36');
    expect(req!.headers['content-type']).toBe('application/x-tar');
    const entries = await readTar(req!.bytes);
    expect([...entries.keys()]).toEqual(['blobs', 'blobs/sha256', `blobs/sha256/${BLOB_HEX}`, 'index.json', 'oci-layout']);
    expect(entries.get('index.json')!.content.toString()).toBe(readFileSync(join(layout, 'index.json'), 'utf8'));
  });

  it('reads stdin without -i; --json prints the LoadImageReply', async () => {
    const gz = gzipSync(Buffer.alloc(4096, 9));
    const reply = loaded(['app:2']);
    const r = await strata(['load', '--json'], (_q, res) => sendJson(res, 201, reply), { stdin: Readable.from([gz.subarray(0, 1), gz.subarray(1)]) });
    expect(JSON.parse(r.out)).toEqual(reply);
    expect(r.requests[0]!.headers['content-type']).toBe('application/gzip');
    expect(r.requests[0]!.bytes.equals(gz)).toBe(true);
  });

  it('usage errors, nothing sent: a terminal on stdin, a directory that is no layout, a missing file, a bad tag', async () => {
    const plain = dir();
    writeFileSync(join(plain, 'rootfs.tar'), 'x');
    const tty = Object.assign(Readable.from([]), { isTTY: true });
    for (const [args, message] of [
      [['load'], /stdin is a terminal/],
      [['load', '-i', plain], /not an OCI image layout/],
      [['load', '-i', join(plain, 'nope.tar')], /no such file/],
      [['load', '-i', join(plain, 'rootfs.tar'), '--tag', 'app:.bad'], /invalid tag/],
      [['import'], /missing required argument/],
      [['import', join(plain, 'nope.tar')], /no such file/],
      [['import', plain], /not a regular file/],
    ] as const) {
      const r = await strata([...args], () => undefined, { stdin: tty });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
    }
    expect(cli.requests()).toHaveLength(0);
  });
});

describe('save', () => {
  const archive = Buffer.alloc(100_000, 5);
  const saveReply: Handler = (_q, res) => void res.writeHead(200, { 'content-type': 'application/x-tar' }).end(archive);

  it('-o: streams the layout tar to the file; every reference in the query', async () => {
    const out = join(dir(), 'out.tar');
    const r = await strata(['save', 'app:1.0', 'app@' + digest('a'), '-o', out], saveReply);
    expect(r.code).toBe(0);
    expect(readFileSync(out).equals(archive)).toBe(true);
    expect(r.out).toBe(`saved app:1.0, app@${digest('a')} to ${out} (100kB)\n`);
    expect(r.requests[0]!.path).toBe('/images/save');
    expect(r.requests[0]!.query.getAll('ref')).toEqual(['app:1.0', `app@${digest('a')}`]);
    expect(readdirSync(join(out, '..'))).toEqual(['out.tar']); // no temporary file left
  });

  it('--json says where, how much and what', async () => {
    const out = join(dir(), 'out.tar');
    const r = await strata(['save', 'app:1.0', '-o', out, '--json'], saveReply);
    expect(JSON.parse(r.out)).toEqual({ output: out, bytes: archive.length, images: ['app:1.0'] });
  });

  it('without -o and with stdout not a terminal: the tar goes to stdout, byte for byte', async () => {
    const r = await strata(['save', 'app:1.0'], saveReply);
    expect(r.code).toBe(0);
    expect(r.outBytes.equals(archive)).toBe(true);
  });

  it('a download cut off midway leaves no out.tar (and no temporary file), exit 1', async () => {
    const folder = dir();
    const out = join(folder, 'out.tar');
    const r = await strata(['save', 'app:1.0', '-o', out], (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/x-tar' });
      res.write(Buffer.alloc(50_000), () => setTimeout(() => res.destroy(), 20));
    });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: the download of \/images\/save was cut off/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(folder)).toEqual([]);
  });

  it('a failed save does not replace an earlier out.tar', async () => {
    const out = file('out.tar', Buffer.from('the good one'));
    const r = await strata(['save', 'ghost:1', '-o', out], (_q, res) => sendProblem(res, 404, 'IMAGE_NOT_FOUND', 'no such image: ghost:1'));
    expect(r).toMatchObject({ code: 1, err: 'error: no such image: ghost:1 (IMAGE_NOT_FOUND)\n' });
    expect(readFileSync(out, 'utf8')).toBe('the good one');
    expect(readdirSync(join(out, '..'))).toEqual(['out.tar']);
  });

  it('usage errors: no -o with a terminal on stdout, no image', async () => {
    const tty = await strata(['save', 'app:1.0'], () => undefined, { stdoutTTY: true });
    expect(tty.code).toBe(2);
    expect(tty.err).toMatch(/refusing to write a tar archive to a terminal: give -o/);
    const none = await strata(['save', '-o', join(dir(), 'x.tar')], () => undefined);
    expect(none.code).toBe(2);
    expect(cli.requests()).toHaveLength(0);
  });
});

/**
 * The image reading and removing commands (`images`, `image inspect`, `history`, `image ls-files`,
 * `image cat`, `rmi`, `system prune`) run in-process against the fake node, human and --json.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FileEntryView, ImageHistoryView, ImagesReply, PruneReply, RemoveImageReply } from '@strata/api';
import { cliHarness, imageView } from './testing/cli-harness.js';
import { digest, sendJson, sendProblem, type Handler } from './testing/fake-node.js';

const cli = cliHarness();
afterEach(() => cli.close());
const { strata } = cli;

// captureIo's clock is 2024-05-01T12:00:00Z.
const base = imageView('1', { tags: [], created: '2024-04-01T12:00:00.000Z', size: 7_800_000 });
const app = imageView('a', { tags: ['app:1.0', 'localhost:5000/app:latest'], created: '2024-05-01T11:57:00.000Z', size: 123_456_789, parent: base.imageId });
const dangling = imageView('d', { tags: [], created: '2024-05-01T09:00:00.000Z', size: 999 });
const list: ImagesReply = { items: [base, dangling, app], position: 9, totalSize: 125_000_000, uniqueLayers: 4 };
const listReply: Handler = (_q, res) => sendJson(res, 200, list);

describe('images', () => {
  it('one row per tag, newest first; untagged as <none>; intermediate images hidden; a total line', async () => {
    const r = await strata(['images'], listReply);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual([
      'REPOSITORY           TAG      IMAGE ID       CREATED         SIZE',
      'app                  1.0      aaaaaaaaaaaa   3 minutes ago   123MB',
      'localhost:5000/app   latest   aaaaaaaaaaaa   3 minutes ago   123MB',
      '<none>               <none>   dddddddddddd   3 hours ago     999B',
      '3 images, total size 125MB (shared layers counted once)',
      '',
    ]);
    expect(r.requests[0]!.path).toBe('/images');
  });

  it('--all shows intermediate images; --digests and --no-trunc show digests in full', async () => {
    const r = await strata(['images', '--all', '--digests', '--no-trunc'], listReply);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(lines[1]).toContain(`${app.manifestDigest}   ${app.imageId}`);
    expect(lines[4]).toMatch(new RegExp(`^<none>\\s+<none>\\s+${base.manifestDigest}\\s+${base.imageId}\\s+4 weeks ago\\s+7.8MB$`));
    expect(lines).toHaveLength(7);
  });

  it('-q: each image id once; --json: the ImagesReply; --at and --min-position as query parameters', async () => {
    const q = await strata(['images', '-q'], listReply);
    expect(q.out).toBe('aaaaaaaaaaaa\ndddddddddddd\n');
    const json = await strata(['image', 'ls', '--json', '--at', '8', '--min-position', '9'], listReply);
    expect(JSON.parse(json.out)).toEqual(list);
    expect(json.requests[1]!.url).toBe('/images?at=8&minPosition=9');
    expect(json.err).toBe('');
    const alias = await strata(['image', 'list', '-q'], listReply);
    expect(alias.out).toBe(q.out);
  });
});

describe('image inspect', () => {
  it('a JSON array of the images, with or without --json; references URL-encoded', async () => {
    const r = await strata(['image', 'inspect', 'localhost:5000/app:latest', digest('1')], (q, res) =>
      sendJson(res, 200, q.path.includes('app') ? app : base),
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual([app, base]);
    expect(r.requests.map((q) => q.path)).toEqual(['/images/localhost%3A5000%2Fapp%3Alatest', `/images/sha256%3A${'1'.repeat(64)}`]);
  });

  it('goes on past a missing image: prints the others, the error, exit 1', async () => {
    const r = await strata(['image', 'inspect', 'ghost', 'app:1.0'], (q, res) =>
      q.path.includes('ghost') ? sendProblem(res, 404, 'IMAGE_NOT_FOUND', 'no such image: ghost') : sendJson(res, 200, app),
    );
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toEqual([app]);
    expect(r.err).toBe('error: no such image: ghost (IMAGE_NOT_FOUND)\n');
  });
});

describe('history', () => {
  const history: ImageHistoryView[] = [
    { created: '2024-04-01T12:00:00.000Z', createdBy: '/bin/sh -c #(nop) ADD file:0123456789abcdef in / ', author: null, comment: null, emptyLayer: false, layerDigest: digest('b'), size: 7_800_000 },
    { created: '2024-05-01T11:57:00.000Z', createdBy: 'strata import rootfs.tar', author: null, comment: 'nightly', emptyLayer: false, layerDigest: digest('c'), size: 1234 },
    { created: null, createdBy: '/bin/sh -c\t#(nop)  CMD ["sh"]', author: null, comment: null, emptyLayer: true, layerDigest: null, size: 0 },
  ];
  const withHistory = { ...app, history };
  const handler: Handler = (q, res) => (q.path.endsWith('/history') ? sendJson(res, 200, { items: history, position: 9 }) : sendJson(res, 200, withHistory));

  it('newest first; the top row is the image, the others <missing>; CREATED BY cut at 45', async () => {
    const r = await strata(['history', 'app:1.0'], handler);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual([
      'IMAGE          CREATED         CREATED BY                                      SIZE     COMMENT',
      'aaaaaaaaaaaa   N/A             /bin/sh -c #(nop)  CMD ["sh"]                   0B       -',
      '<missing>      3 minutes ago   strata import rootfs.tar                        1.23kB   nightly',
      '<missing>      4 weeks ago     /bin/sh -c #(nop) ADD file:0123456789abcdef …   7.8MB    -',
      '',
    ]);
    expect(r.requests[0]!.path).toBe('/images/app%3A1.0');
  });

  it('image history --no-trunc: full id and command; --json: the ImageHistoryReply', async () => {
    const full = await strata(['image', 'history', '--no-trunc', 'app:1.0'], handler);
    expect(full.out).toContain(app.imageId);
    expect(full.out).toContain('ADD file:0123456789abcdef in /');
    const json = await strata(['history', 'app:1.0', '--json'], handler);
    expect(JSON.parse(json.out)).toEqual({ items: history, position: 9 });
    expect(json.requests[1]!.path).toBe('/images/app%3A1.0/history');
  });
});

describe('image ls-files and cat', () => {
  const entry = (path: string, type: FileEntryView['type'], mode: number, size: number, linkname: string | null = null): FileEntryView => ({
    path, type, mode, uid: 0, gid: 0, size, linkname, mtime: null,
  });
  const files = [
    entry('/bin', 'dir', 0o755, 0),
    entry('/bin/busybox', 'file', 0o4755, 1_048_576),
    entry('/bin/sh', 'symlink', 0o777, 7, 'busybox'),
    entry('/bin/ash', 'hardlink', 0o755, 0, '/bin/busybox'),
    { ...entry('/home/user', 'dir', 0o700, 0), uid: 1000, gid: 1000 },
  ];

  it('ls-files: mode, owner, size, path and link target, like ls -l', async () => {
    const r = await strata(['image', 'ls-files', 'app:1.0', 'bin', '-r'], (_q, res) => sendJson(res, 200, { items: files, position: 9 }));
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual([
      'drwxr-xr-x  0/0              0  /bin',
      '-rwsr-xr-x  0/0        1048576  /bin/busybox',
      'lrwxrwxrwx  0/0              7  /bin/sh -> busybox',
      'hrwxr-xr-x  0/0              0  /bin/ash link to /bin/busybox',
      'drwx------  1000/1000        0  /home/user',
      '',
    ]);
    expect(r.requests[0]!.url).toBe('/images/app%3A1.0/files?path=%2Fbin&recursive=true');
  });

  it('ls-files: the root by default, not recursive; --json: the ImageFilesReply', async () => {
    const r = await strata(['--json', 'image', 'ls-files', 'app:1.0'], (_q, res) => sendJson(res, 200, { items: files, position: 9 }));
    expect(JSON.parse(r.out)).toEqual({ items: files, position: 9 });
    expect(r.requests[0]!.url).toBe('/images/app%3A1.0/files?path=%2F');
  });

  it('cat: the raw bytes to stdout', async () => {
    const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 13, 0x80]);
    const r = await strata(['image', 'cat', 'app:1.0', '/etc/motd'], (_q, res) => void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes));
    expect(r.code).toBe(0);
    expect(r.outBytes.equals(bytes)).toBe(true);
    expect(r.requests[0]!.url).toBe('/images/app%3A1.0/content?path=%2Fetc%2Fmotd');
  });

  it('cat: a missing file is exit 1; a missing path argument exit 2', async () => {
    const r = await strata(['image', 'cat', 'app:1.0', 'etc/nope'], (_q, res) => sendProblem(res, 404, 'FILE_NOT_FOUND', 'no /etc/nope in app:1.0'));
    expect(r).toMatchObject({ code: 1, out: '', err: 'error: no /etc/nope in app:1.0 (FILE_NOT_FOUND)\n' });
    expect(r.requests[0]!.query.get('path')).toBe('/etc/nope');
    const usage = await strata(['image', 'cat', 'app:1.0'], () => undefined);
    expect(usage.code).toBe(2);
  });
});

describe('rmi', () => {
  const removed = (ref: string): RemoveImageReply => ({
    manifestDigest: app.manifestDigest,
    imageId: app.imageId,
    untagged: ref === 'app:1.0' ? ['app:1.0', 'localhost:5000/app:latest'] : [],
    commands: [],
    position: 12,
  });
  const handler: Handler = (q, res) => {
    const ref = decodeURIComponent(q.path.slice('/images/'.length));
    if (ref === 'ghost') return sendProblem(res, 404, 'IMAGE_NOT_FOUND', 'no such image: ghost');
    sendJson(res, 200, removed(ref));
  };

  it('-f: Untagged lines, then Deleted, like docker rmi', async () => {
    const r = await strata(['rmi', '-f', 'app:1.0'], handler);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toBe(`Untagged: app:1.0\nUntagged: localhost:5000/app:latest\nDeleted: ${app.imageId}\n`);
    expect(r.requests[0]).toMatchObject({ method: 'DELETE', url: '/images/app%3A1.0?force=true' });
    expect(r.requests[0]!.headers['idempotency-key']).toBeTruthy();
  });

  it('image rm goes on past a failure (exit 1); --json prints the replies', async () => {
    const r = await strata(['image', 'rm', 'ghost', 'aaaa'], handler);
    expect(r.code).toBe(1);
    expect(r.out).toBe(`Deleted: ${app.imageId}\n`);
    expect(r.err).toBe('error: no such image: ghost (IMAGE_NOT_FOUND)\n');
    expect(r.requests[1]!.url).toBe('/images/aaaa');

    const json = await strata(['--json', 'rmi', 'aaaa'], handler);
    expect(JSON.parse(json.out)).toEqual([removed('aaaa')]);
  });

  it('a refusal that concerns every image (no token) ends at once', async () => {
    const r = await strata(['rmi', 'a1', 'a2'], (_q, res) => sendProblem(res, 401, 'UNAUTHENTICATED', 'bad token'));
    expect(r.code).toBe(1);
    expect(r.requests).toHaveLength(1);
    expect(r.err).toMatch(/^error: bad token \(UNAUTHENTICATED\)\nhint: the node refused the token from STRATA_TOKEN\n$/);
  });
});

describe('system prune', () => {
  const prune = (dryRun: boolean): PruneReply => ({ dryRun, removedBlobs: 3, freedBytes: 12_345_678, removedSnapshots: 1 });
  const handler: Handler = (q, res) => sendJson(res, 200, prune(q.query.get('dryRun') === 'true'));

  it('--dry-run says what would go; without it, what went', async () => {
    const dry = await strata(['system', 'prune', '--dry-run'], handler);
    expect(dry.out).toBe('would remove 3 unused blobs and 1 snapshot, freeing 12.3MB\n');
    expect(dry.requests[0]).toMatchObject({ method: 'POST', url: '/system/prune?dryRun=true' });
    const real = await strata(['system', 'prune'], handler);
    expect(real.out).toBe('removed 3 unused blobs and 1 snapshot\nTotal reclaimed space: 12.3MB\n');
    expect(real.requests[1]!.url).toBe('/system/prune');
  });

  it('--json prints the PruneReply', async () => {
    const r = await strata(['system', 'prune', '--json'], handler);
    expect(JSON.parse(r.out)).toEqual(prune(false));
  });
});

describe('usage errors', () => {
  it('exit 2 and nothing sent', async () => {
    for (const args of [['rmi'], ['image', 'inspect'], ['history'], ['image', 'ls-files'], ['images', '--bogus'], ['image', 'frobnicate'], ['tag', 'sha256:xyz', 'app:1']]) {
      const r = await strata(args, () => undefined);
      expect(r.code, args.join(' ')).toBe(2);
    }
    expect(cli.requests()).toHaveLength(0);
  });
});

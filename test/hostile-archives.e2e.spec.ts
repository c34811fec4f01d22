import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipBomb, ociLayoutArchive, tarOfEntries } from './support/archives.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';

const ESCAPE = `strata-escape-${process.pid}`;

/**
 * Hostile archives, each its own case: a clear error with a stable code, no event appended, no image
 * visible, nothing written outside the data directory. The node refuses setuid bits here
 * (STRATA_SETUID=reject) and caps layers at 1 MiB uncompressed, so the bomb stays cheap.
 */
describe('hostile archives never escape', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode({ env: { STRATA_SETUID: 'reject', STRATA_MAX_LAYER_BYTES: String(1024 * 1024) } });
  });
  afterAll(() => t?.stop());

  const refused = async (route: 'import' | 'load', body: Buffer, code: string) => {
    const head = (await t.json('GET', '/healthz')).body.head;
    const r = await fetch(`${t.url}/images/${route}?tag=hostile/x:1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/x-tar' },
      body,
    });
    const problem = JSON.parse(await r.text());
    expect({ status: r.status, code: problem.code }).toEqual({ status: 400, code });
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(problem.detail).toEqual(expect.any(String));
    expect((await t.json('GET', '/healthz')).body.head).toBe(head); // no event appended
    expect((await t.json('GET', '/images')).body.items).toEqual([]); // no image visible
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith(ESCAPE))).toEqual([]); // nothing escaped
    expect(existsSync(join(t.dataDir, '..', ESCAPE))).toBe(false);
  };

  it('refuses a path with ..', async () => {
    await refused('import', await tarOfEntries([{ name: `../../../../../../tmp/${ESCAPE}`, body: 'x' }]), 'UNSAFE_PATH');
  });
  it('refuses a symlink that climbs out of the root', async () => {
    await refused('import', await tarOfEntries([{ name: 'etc/link', type: 'symlink', linkname: '../../../../tmp' }]), 'LINK_ESCAPE');
  });
  it('refuses a hard link to a file outside the root', async () => {
    await refused('import', await tarOfEntries([{ name: 'passwd', type: 'link', linkname: '../../etc/passwd' }]), 'LINK_ESCAPE');
  });
  it('refuses device nodes', async () => {
    await refused('import', await tarOfEntries([{ name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 }]), 'DEVICE_NODE');
    await refused('import', await tarOfEntries([{ name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1 }]), 'DEVICE_NODE');
  });
  it('refuses setuid files where the node forbids them', async () => {
    await refused('import', await tarOfEntries([{ name: 'bin/su', mode: 0o4755, body: 'x' }]), 'SETUID_NOT_ALLOWED');
  });
  it('refuses the same path twice', async () => {
    await refused('import', await tarOfEntries([{ name: 'a', body: '1' }, { name: 'a', body: '2' }]), 'DUPLICATE_ENTRY');
  });
  it('refuses a truncated stream', async () => {
    const whole = await tarOfEntries([{ name: 'big', body: Buffer.alloc(64 * 1024, 7) }]);
    await refused('import', whole.subarray(0, 20_000), 'TRUNCATED_ARCHIVE');
  });
  it('refuses something that is not a tar at all', async () => {
    await refused('import', Buffer.from('this is not a tar archive, just text that goes on and on. '.repeat(20)), 'TRUNCATED_ARCHIVE');
  });
  it('refuses a gzip bomb at the size cap', async () => {
    await refused('import', await gzipBomb(8 * 1024 * 1024), 'SIZE_LIMIT');
  });
  it('refuses a manifest that gives a layer the wrong size', async () => {
    const layer = await tarOfEntries([{ name: 'a', body: 'a' }]);
    await refused('load', await ociLayoutArchive([layer], { layerSize: layer.length + 1 }), 'SIZE_MISMATCH');
  });
  it('refuses a config whose diff_ids do not match its layers', async () => {
    const layer = await tarOfEntries([{ name: 'a', body: 'a' }]);
    await refused('load', await ociLayoutArchive([layer], { diffIds: [`sha256:${'0'.repeat(64)}`] }), 'DIFF_ID_MISMATCH');
  });
  it('refuses a blob whose bytes do not match its name', async () => {
    const layer = await tarOfEntries([{ name: 'a', body: 'a' }]);
    await refused('load', await ociLayoutArchive([layer], { misnameLayer: true }), 'DIGEST_MISMATCH');
  });
  it('refuses an archive file name with ..', async () => {
    const layer = await tarOfEntries([{ name: 'a', body: 'a' }]);
    await refused('load', await ociLayoutArchive([layer], { extra: { [`../${ESCAPE}`]: Buffer.from('x') } }), 'UNSAFE_PATH');
  });
  it('refuses a hostile layer inside an otherwise valid OCI layout', async () => {
    const layer = await tarOfEntries([{ name: '../../evil', body: 'x' }]);
    await refused('load', await ociLayoutArchive([layer]), 'UNSAFE_PATH');
  });
});

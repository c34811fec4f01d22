/** A layout directory sent as a tar: what goes in, and what is refused before anything is sent. */
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.js';
import { layoutUpload } from './layout-tar.js';
import { BLOB_HEX as hex, makeLayout, readTar } from './testing/layout-fixtures.js';
import { tempDir } from './testing/temp-dir.js';

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of chunks) out.push(Buffer.from(chunk));
  return Buffer.concat(out);
}

describe('layoutUpload', () => {
  it("builds a tar of the layout's files and directories, with an exact size estimate", async () => {
    const dir = makeLayout();
    const upload = await layoutUpload(dir);
    expect(upload.contentType).toBe('application/x-tar');
    const bytes = await collect(upload.chunks);
    expect(bytes.length).toBe(upload.size);
    const entries = await readTar(bytes);
    expect([...entries.keys()]).toEqual(['blobs', 'blobs/sha256', `blobs/sha256/${hex}`, 'index.json', 'oci-layout']);
    expect(entries.get(`blobs/sha256/${hex}`)!.content.equals(Buffer.alloc(70_000, 1))).toBe(true);
    expect(entries.get('oci-layout')!.content.toString()).toBe('{"imageLayoutVersion":"1.0.0"}');
    expect(entries.get('blobs')!.type).toBe('directory');
  });

  it('sends a symlink that stays inside as the file it points to', async () => {
    const dir = makeLayout();
    symlinkSync(join('sha256', hex), join(dir, 'blobs', 'alias'));
    const entries = await readTar(await collect((await layoutUpload(dir)).chunks));
    expect(entries.get('blobs/alias')).toMatchObject({ type: 'file' });
    expect(entries.get('blobs/alias')!.content.length).toBe(70_000);
  });

  it('refuses a symlink out of the layout, a symlink loop, and a directory that is no layout', async () => {
    const out = makeLayout();
    symlinkSync('/etc/passwd', join(out, 'blobs', 'passwd'));
    await expect(layoutUpload(out)).rejects.toThrow(/points out of the layout/);

    const loop = makeLayout();
    symlinkSync('..', join(loop, 'blobs', 'up'));
    await expect(layoutUpload(loop)).rejects.toThrow(/symlink loop/);

    const plain = tempDir('strata-cli-plain-');
    writeFileSync(join(plain, 'rootfs.tar'), 'x');
    await expect(layoutUpload(plain)).rejects.toThrow(UsageError);
    await expect(layoutUpload(plain)).rejects.toThrow(/not an OCI image layout/);
  });

  it('accepts an extracted docker save archive (manifest.json)', async () => {
    const dir = tempDir('strata-cli-docker-');
    writeFileSync(join(dir, 'manifest.json'), '[]');
    const entries = await readTar(await collect((await layoutUpload(dir)).chunks));
    expect([...entries.keys()]).toEqual(['manifest.json']);
  });
});

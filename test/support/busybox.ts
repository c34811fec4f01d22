import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBusyboxRootfs } from '../../libs/layers/src/testing/busybox-rootfs.js';
import { ADMIN_TOKEN } from './test-node.js';
import { tarOf, tool } from './trees.js';

/** A busybox-static root filesystem as a layer tar (what `strata import` takes), made in a temp dir. */
export async function busyboxTar(): Promise<Buffer> {
  const work = mkdtempSync(join(tmpdir(), 'strata-busybox-'));
  try {
    const rootfs = join(work, 'rootfs');
    mkdirSync(rootfs);
    await makeBusyboxRootfs(rootfs);
    return tarOf(rootfs);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Imports busybox into the node at `url` as `tag` through the real HTTP API; throws with the node's answer otherwise. */
export async function importBusybox(url: string, tar?: Buffer, tag = 'busybox:latest'): Promise<void> {
  const r = await fetch(`${url}/images/import?tag=${encodeURIComponent(tag)}&source=busybox.tar`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/x-tar' },
    body: tar ?? (await busyboxTar()),
  });
  if (r.status !== 201) throw new Error(`import of busybox failed: ${r.status} ${await r.text()}`);
}

/**
 * An OCI image layout made by umoci (the outside tool, not our code) at `<work>/layout`, tag `base`:
 * a busybox root filesystem plus /opt/app/hello.txt holding `hello`. Returns the layout's path.
 */
export async function umociBusyboxLayout(work: string, hello: string): Promise<string> {
  const layout = join(work, 'layout');
  tool('umoci', ['init', '--layout', layout]);
  tool('umoci', ['new', '--image', `${layout}:base`]);
  tool('umoci', ['unpack', '--image', `${layout}:base`, join(work, 'b1')]);
  const root = join(work, 'b1/rootfs');
  await makeBusyboxRootfs(root);
  await mkdir(join(root, 'opt/app'), { recursive: true });
  await writeFile(join(root, 'opt/app/hello.txt'), hello);
  tool('umoci', ['repack', '--image', `${layout}:base`, join(work, 'b1')]);
  return layout;
}

import tar from 'tar-stream';
import type { ImportImageReply } from '@strata/api';

/** A one-file layer tar, different for every seed: the smallest real image there is. */
export async function tinyLayer(seed: string): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: 'seed.txt', mode: 0o644, mtime: new Date(0) }, `${seed}\n`);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Imports a tiny image through the real HTTP API (tags point only at images that exist) and returns
 * its manifest digest: what a tag points to.
 */
export async function importImage(url: string, token: string, seed: string, tag?: string): Promise<string> {
  const query = new URLSearchParams({ source: `${seed}.tar`, ...(tag ? { tag } : {}) });
  const response = await fetch(`${url}/images/import?${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-tar' },
    body: await tinyLayer(seed),
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`import of ${seed} failed: ${response.status} ${text}`);
  return (JSON.parse(text) as ImportImageReply).image.manifestDigest;
}

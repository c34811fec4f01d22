/** Test fixtures for archives: a minimal OCI image layout on disk, and a tar read back into entries. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tar from 'tar-stream';
import { tempDir } from './temp-dir.js';

export const BLOB_HEX = 'ab'.repeat(32);

/** A minimal OCI image layout: oci-layout, index.json and one blob. */
export function makeLayout(): string {
  const dir = tempDir('strata-cli-layout-');
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'blobs', 'sha256', BLOB_HEX), Buffer.alloc(70_000, 1));
  return dir;
}

/** Every entry of a tar: name, type and content. */
export async function readTar(bytes: Buffer): Promise<Map<string, { type: string; content: Buffer }>> {
  const entries = new Map<string, { type: string; content: Buffer }>();
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      entries.set(entry.header.name, { type: entry.header.type ?? 'file', content: Buffer.concat(chunks) });
    }
  })();
  extract.end(bytes);
  await done;
  return entries;
}


import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

/** One entry of a hand-made test tar: tar-stream writes the headers, we only say what goes in. */
export interface TarFixtureEntry {
  name: string;
  type?: tar.Header['type'];
  body?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
}

const FIXED_TIME = new Date('2024-01-02T03:04:05Z');

/** A tar of exactly these entries, in this order (hostile ones included), as one buffer. */
export async function tarOf(entries: TarFixtureEntry[], options: { gzip?: boolean } = {}): Promise<Buffer> {
  const pack = tar.pack();
  const done = collect(pack);
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const header: Partial<tar.Header> & { name: string } = {
      name: entry.name,
      type,
      mode: entry.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      mtime: entry.mtime ?? FIXED_TIME,
      linkname: entry.linkname,
      devmajor: entry.devmajor,
      devminor: entry.devminor,
    };
    await new Promise<void>((resolve, reject) => {
      const callback = (error?: Error | null) => (error ? reject(error) : resolve());
      if (type === 'file') pack.entry(header, Buffer.from(entry.body ?? ''), callback);
      else pack.entry(header, callback).end(undefined);
    });
  }
  pack.finalize();
  const bytes = await done;
  return options.gzip ? gzipSync(bytes) : bytes;
}

export const streamOf = (...chunks: Buffer[]): Readable => Readable.from(chunks, { objectMode: false });

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A gzip bomb as a list of gzip members (gunzip reads concatenated members as one stream): the first
 * holds a tar header announcing `inflatedBytes` of file, each of the others 16 MiB of zeros in ~16 KiB.
 * About 1 KiB of blob per MiB inflated, built without ever holding the inflated bytes.
 */
export async function gzipBombMembers(inflatedBytes: number): Promise<Buffer[]> {
  const zeros = 16 * 1024 * 1024;
  const pack = tar.pack();
  pack.entry({ name: 'bomb', size: inflatedBytes, mode: 0o644, mtime: FIXED_TIME });
  // The header is pushed as soon as the entry opens; take its 512 bytes and drop the rest.
  const [header] = await readFirst(pack, 512);
  pack.destroy();
  const member = gzipSync(Buffer.alloc(zeros), { level: 9 });
  return [gzipSync(header), ...Array.from({ length: Math.ceil(inflatedBytes / zeros) }, () => member)];
}

async function readFirst(stream: AsyncIterable<unknown>, bytes: number): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length >= bytes) break;
  }
  return [Buffer.concat(chunks).subarray(0, bytes)];
}

/** Files written whole or not at all: `save -o` and `cp ctr:path file` never leave half a file behind. */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { LocalError, ProtocolError } from '../errors.js';

/**
 * The bytes are written next to `output` under a temporary name and renamed only when complete, so a
 * failed or interrupted download never leaves a truncated file where a complete one is expected (nor
 * replaces a good one from before). Resolves to the number of bytes written.
 */
export async function writeAtomically(source: Readable, output: string): Promise<number> {
  const temp = join(dirname(output), `.${basename(output)}.${randomBytes(4).toString('hex')}.partial`);
  let bytes = 0;
  async function* counted(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of chunks) {
      bytes += chunk.byteLength;
      yield chunk;
    }
  }
  try {
    await pipeline(source, counted, createWriteStream(temp, { flags: 'wx' }));
    await rename(temp, output);
    return bytes;
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    if (error instanceof ProtocolError) throw error;
    if (isAbort(error)) throw error;
    throw new LocalError(`writing ${output} failed: ${(error as Error).message}`, { cause: error });
  }
}

const isAbort = (error: unknown): boolean => error instanceof Error && error.name === 'AbortError';

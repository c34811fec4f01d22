/** Binary output (`image cat`, `save` to stdout): bytes as they come, at the pace stdout takes them. */
import { once } from 'node:events';

export async function writeAll(source: AsyncIterable<Uint8Array>, out: NodeJS.WritableStream): Promise<number> {
  let bytes = 0;
  for await (const chunk of source) {
    bytes += chunk.byteLength;
    // Backpressure by hand rather than pipeline(): pipeline would end (or destroy) process.stdout.
    if (!out.write(chunk)) await once(out, 'drain');
  }
  return bytes;
}

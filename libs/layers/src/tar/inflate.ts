import { createGunzip, type Gunzip } from 'node:zlib';

/**
 * zlib's default output chunk is 16 KiB: inflating a layer then costs a callback, a buffer and a tar
 * parser step per 16 KiB. 256 KiB chunks inflate the same 50 MiB layer ~3× faster here (590/300 ms →
 * ~100 ms, measured with a sha256 consumer), for 256 KiB of memory per layer being read.
 */
const INFLATE_CHUNK = 256 * 1024;

/** A gunzip stream for layer blobs (every gzip layer the node reads goes through this). */
export function layerGunzip(): Gunzip {
  return createGunzip({ chunkSize: INFLATE_CHUNK });
}

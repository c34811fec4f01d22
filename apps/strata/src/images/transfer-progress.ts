import type { TransferProgress } from '@strata/api';
import type { BlobProgress } from '@strata/registry';

/** A progress line per blob at most this often while bytes move (every change of status goes out at once). */
const INTERVAL_MS = 200;

/** Blob progress as NDJSON lines, throttled: a gigabyte layer is not 16 000 lines. */
export function throttledBlobProgress(emit: (line: TransferProgress) => void): (progress: BlobProgress) => void {
  const last = new Map<string, { at: number; status: string }>();
  return (p) => {
    const now = Date.now();
    const before = last.get(p.digest);
    const moving = p.status === 'downloading' || p.status === 'uploading';
    if (moving && before && before.status === p.status && now - before.at < INTERVAL_MS && p.bytes < p.size) return;
    last.set(p.digest, { at: now, status: p.status });
    emit({ kind: 'blob', digest: p.digest, size: p.size, bytes: p.bytes, status: p.status });
  };
}

/**
 * HTTP ranges as a registry meets them: `Range: bytes=<start>-<end>` on blob GETs (clients resume
 * a pull with it) and `Content-Range: <start>-<end>` on upload PATCHes (the chunk's place in the blob).
 */
export interface ByteRange {
  start: number;
  /** Inclusive, like HTTP. */
  end: number;
}

/**
 * A GET's `Range` header against a blob of `size` bytes: null when absent or not a single byte range
 * we serve (then the whole blob is sent, as RFC 9110 allows), 'unsatisfiable' when it lies outside.
 */
export function parseRangeHeader(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  if (match[1] === '') {
    // A suffix range: the last N bytes.
    const length = Number(match[2]);
    if (length === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

/** An upload chunk's `Content-Range: <start>-<end>` (distribution's form, without "bytes "); null when absent. */
export function parseChunkRange(header: string | undefined): ByteRange | 'invalid' | null {
  if (header === undefined || header === '') return null;
  const match = /^(?:bytes )?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!match) return 'invalid';
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return 'invalid';
  return { start, end };
}

/** The `Range` an upload answers with: what it holds so far, `0-<offset-1>` (`0-0` when it is empty, as distribution says). */
export const uploadRangeHeader = (offset: number): string => `0-${Math.max(0, offset - 1)}`;

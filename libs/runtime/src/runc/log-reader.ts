import { open } from 'node:fs/promises';
import type { LogLine } from '../port.js';
import { abortableSleep } from './abortable-sleep.js';

export interface LogReadOptions {
  since?: string;
  tail?: number;
  follow?: boolean;
  signal?: AbortSignal;
  /** For follow: whether the process that writes the file has ended (then the rest of the file is the end). */
  ended: () => Promise<boolean>;
  pollMs?: number;
}

const CHUNK = 64 * 1024;

/**
 * The lines of a shim's log.ndjson: `since` (an ISO time) drops older lines, `tail` keeps the last n
 * of those, `follow` then waits for new lines until the writer has ended or `signal` aborts. Reads
 * in chunks, so a big log is never in memory whole (tail keeps only its n lines); a half-written
 * last line waits for its newline.
 */
export async function* readLogFile(path: string, options: LogReadOptions): AsyncGenerator<LogLine> {
  const since = options.since === undefined ? undefined : Date.parse(options.since);
  if (since !== undefined && Number.isNaN(since)) throw new TypeError(`since must be a time (ISO 8601), got ${JSON.stringify(options.since)}`);
  const keep = (line: LogLine) => since === undefined || Date.parse(line.time) >= since;
  const reader = new LineReader(path);
  try {
    if (options.tail !== undefined) {
      const last: LogLine[] = [];
      for await (const line of reader.readAvailable()) {
        if (!keep(line)) continue;
        last.push(line);
        if (last.length > options.tail) last.shift();
      }
      yield* last;
    } else {
      for await (const line of reader.readAvailable()) if (keep(line)) yield line;
    }
    if (!options.follow) return;
    for (let delay = 20; !options.signal?.aborted; delay = Math.min(delay * 2, options.pollMs ?? 200)) {
      // Ask first, read after: lines written before the writer ended are then never missed.
      const ended = await options.ended();
      let any = false;
      for await (const line of reader.readAvailable()) {
        any = true;
        delay = 10;
        if (keep(line)) yield line;
      }
      if (ended) return;
      if (!any && !(await abortableSleep(delay, options.signal))) return;
    }
  } finally {
    await reader.close();
  }
}

/** Reads whole lines from a growing file, remembering where it stopped. */
class LineReader {
  private offset = 0;
  private rest = Buffer.alloc(0);
  private handle: Awaited<ReturnType<typeof open>> | undefined;

  constructor(private readonly path: string) {}

  async *readAvailable(): AsyncGenerator<LogLine> {
    if (!this.handle) {
      try {
        this.handle = await open(this.path, 'r');
      } catch {
        return; // no output yet
      }
    }
    const buffer = Buffer.alloc(CHUNK);
    for (;;) {
      const { bytesRead } = await this.handle.read(buffer, 0, CHUNK, this.offset);
      if (bytesRead === 0) return;
      this.offset += bytesRead;
      let data = Buffer.concat([this.rest, buffer.subarray(0, bytesRead)]);
      let from = 0;
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, from)) {
        const line = parseRecord(data.subarray(from, nl).toString('utf8'));
        from = nl + 1;
        if (line) yield line;
      }
      data = data.subarray(from);
      this.rest = Buffer.from(data);
    }
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }
}

function parseRecord(text: string): LogLine | undefined {
  try {
    const raw = JSON.parse(text) as { t?: unknown; s?: unknown; l?: unknown };
    if (typeof raw.t !== 'string' || (raw.s !== 'stdout' && raw.s !== 'stderr') || typeof raw.l !== 'string') return undefined;
    return { time: raw.t, stream: raw.s, line: raw.l };
  } catch {
    return undefined; // a damaged line (a disk that filled up) is skipped, not fatal
  }
}

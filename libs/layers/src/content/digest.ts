import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { layerInvalid } from '../errors.js';

/** The only algorithm we store: OCI allows sha512 too, but every tool in practice writes sha256. */
const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

export interface ParsedDigest {
  algorithm: 'sha256';
  hex: string;
}

export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST_PATTERN.test(value);
}

/** Splits "sha256:<hex>"; DIGEST_INVALID for anything else. Every path built from a digest goes through this. */
export function parseDigest(value: unknown): ParsedDigest {
  if (!isDigest(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 100)) : typeof value;
    throw layerInvalid('DIGEST_INVALID', `not a sha256 digest ("sha256:" and 64 lowercase hex digits): ${shown}`);
  }
  return { algorithm: 'sha256', hex: value.slice('sha256:'.length) };
}

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Incremental sha256 plus a byte count, for code that loops over chunks itself. */
export class DigestCounter {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  /** Call once, after the last chunk. */
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

export interface HashingStreamOptions {
  /** SIZE_LIMIT as soon as more than this many bytes pass. */
  maxBytes?: number;
  /** What the bytes are, for the SIZE_LIMIT message. */
  what?: string;
}

/**
 * A pass-through that hashes what flows through it: `digest()` and `bytes` are final after 'finish'.
 * Its output must be consumed (piped on, or `resume()`d when it is the last stage), like any Transform.
 */
export class HashingStream extends Transform {
  private readonly counter = new DigestCounter();
  private result: string | undefined;

  constructor(private readonly options: HashingStreamOptions = {}) {
    super();
  }

  get bytes(): number {
    return this.counter.bytes;
  }

  /** The digest of everything that passed; throws if the stream has not finished. */
  digest(): string {
    if (this.result === undefined) throw new Error('HashingStream.digest() before the stream finished');
    return this.result;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.counter.update(chunk);
    const max = this.options.maxBytes;
    if (max !== undefined && this.counter.bytes > max) {
      callback(layerInvalid('SIZE_LIMIT', `${this.options.what ?? 'stream'} is larger than the limit of ${max} bytes`, { limit: max }));
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.result = this.counter.digest();
    callback();
  }
}

/** Hashes a whole stream without holding it; SIZE_LIMIT over `maxBytes`. */
export async function digestOf(source: AsyncIterable<Uint8Array>, options: HashingStreamOptions = {}): Promise<{ digest: string; bytes: number }> {
  const counter = new DigestCounter();
  for await (const chunk of source) {
    counter.update(chunk);
    if (options.maxBytes !== undefined && counter.bytes > options.maxBytes) {
      throw layerInvalid('SIZE_LIMIT', `${options.what ?? 'stream'} is larger than the limit of ${options.maxBytes} bytes`, { limit: options.maxBytes });
    }
  }
  return { digest: counter.digest(), bytes: counter.bytes };
}

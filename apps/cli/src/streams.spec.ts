import { describe, expect, it } from 'vitest';
import { parseSse, readLines, readNdjson } from './streams.js';

const bytes = (...parts: string[]) =>
  (async function* () {
    for (const p of parts) yield new TextEncoder().encode(p);
  })();

const collect = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

describe('readLines', () => {
  it('splits across chunk borders, strips \\r, keeps a last unterminated line', async () => {
    expect(await collect(readLines(bytes('a\r\nb', 'c\n', '\nd')))).toEqual(['a', 'bc', '', 'd']);
  });
  it('decodes a multi-byte character split between chunks', async () => {
    const euro = new TextEncoder().encode('€\n');
    const parts = (async function* () {
      yield euro.slice(0, 1);
      yield euro.slice(1);
    })();
    expect(await collect(readLines(parts))).toEqual(['€']);
  });
});

describe('readNdjson', () => {
  it('parses one value per non-empty line', async () => {
    expect(await collect(readNdjson(readLines(bytes('{"a":1}\n\n{"b"', ':2}\n'))))).toEqual([{ a: 1 }, { b: 2 }]);
  });
});

describe('parseSse', () => {
  it('dispatches on blank lines, joins data lines, keeps the last id, skips comments', async () => {
    const text = [': heartbeat', '', 'id: 1', 'data: {"p":1}', '', 'event: resync', 'data:first', 'data: second', '', 'id:7', 'data', '', 'data: cut'].join('\n');
    expect(await collect(parseSse(readLines(bytes(text))))).toEqual([
      { event: 'message', data: '{"p":1}', id: '1' },
      { event: 'resync', data: 'first\nsecond', id: '1' },
      { event: 'message', data: '', id: '7' },
    ]);
  });
});

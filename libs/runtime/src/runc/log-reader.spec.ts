import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { collect } from '../testing/runc-fixture.js';
import { readLogFile } from './log-reader.js';

const record = (t: string, s: string, l: string) => `${JSON.stringify({ t, s, l })}\n`;

describe('readLogFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-logs-'));
  const file = join(dir, 'log.ndjson');
  afterEach(() => rmSync(file, { force: true }));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const never = async () => false;
  const done = async () => true;

  it('skips damaged records and holds back a half-written last line', async () => {
    writeFileSync(file, record('2026-01-01T00:00:00.000Z', 'stdout', 'a') + 'not json\n' + record('2026-01-01T00:00:01.000Z', 'stderr', 'b') + '{"t":"2026');
    expect(await collect(readLogFile(file, { ended: done }))).toEqual([
      { time: '2026-01-01T00:00:00.000Z', stream: 'stdout', line: 'a' },
      { time: '2026-01-01T00:00:01.000Z', stream: 'stderr', line: 'b' },
    ]);
  });

  it('is empty when nothing was written yet, and refuses a since that is no time', async () => {
    expect(await collect(readLogFile(join(dir, 'none.ndjson'), { ended: done }))).toEqual([]);
    await expect(collect(readLogFile(file, { since: 'yesterday', ended: done }))).rejects.toThrow(/since must be a time/);
  });

  it('follows appended lines (across chunk boundaries) until the writer ends', async () => {
    writeFileSync(file, record('2026-01-01T00:00:00.000Z', 'stdout', 'first'));
    let ended = false;
    const reading = collect(readLogFile(file, { follow: true, ended: async () => ended }));
    const big = 'x'.repeat(100_000);
    setTimeout(() => appendFileSync(file, record('2026-01-01T00:00:01.000Z', 'stdout', big)), 50);
    setTimeout(() => {
      appendFileSync(file, record('2026-01-01T00:00:02.000Z', 'stdout', 'last'));
      ended = true;
    }, 150);
    expect((await reading).map((l) => l.line)).toEqual(['first', big, 'last']);
  });

  it('ends a follow when aborted', async () => {
    writeFileSync(file, '');
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    expect(await collect(readLogFile(file, { follow: true, signal: abort.signal, ended: never }))).toEqual([]);
  });
});

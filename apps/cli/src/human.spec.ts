import { describe, expect, it } from 'vitest';
import { ellipsis, humanDuration, humanSize, modeString, timeAgo } from './human.js';

describe('humanSize (Docker: base 1000, three significant digits)', () => {
  it.each([
    [0, '0B'],
    [999, '999B'],
    [1000, '1kB'],
    [1234, '1.23kB'],
    [4_500_000, '4.5MB'],
    [123_456_789, '123MB'],
    [999_999, '1MB'],
    [7_800_000_000, '7.8GB'],
  ])('%d → %s', (bytes, text) => expect(humanSize(bytes)).toBe(text));
});

describe('humanDuration / timeAgo (Docker: HumanDuration + " ago")', () => {
  const s = 1000;
  it.each([
    [500, 'Less than a second'],
    [1 * s, '1 second'],
    [45 * s, '45 seconds'],
    [90 * s, 'About a minute'],
    [3 * 60 * s, '3 minutes'],
    [60 * 60 * s, 'About an hour'],
    [5 * 3600 * s, '5 hours'],
    [3 * 86_400 * s, '3 days'],
    [20 * 86_400 * s, '2 weeks'],
    [90 * 86_400 * s, '3 months'],
    [800 * 86_400 * s, '2 years'],
  ])('%d ms → %s', (ms, text) => expect(humanDuration(ms)).toBe(text));

  it('says N/A without a time', () => {
    const now = new Date('2024-05-01T12:00:00Z');
    expect(timeAgo('2024-05-01T11:57:00Z', now)).toBe('3 minutes ago');
    expect(timeAgo(null, now)).toBe('N/A');
  });
});

describe('modeString (ls -l)', () => {
  it.each([
    ['dir', 0o755, 'drwxr-xr-x'],
    ['file', 0o644, '-rw-r--r--'],
    ['symlink', 0o777, 'lrwxrwxrwx'],
    ['hardlink', 0o600, 'hrw-------'],
    ['fifo', 0o644, 'prw-r--r--'],
    ['file', 0o4755, '-rwsr-xr-x'],
    ['file', 0o2644, '-rw-r-Sr--'],
    ['dir', 0o1777, 'drwxrwxrwt'],
    ['other', 0o644, '?rw-r--r--'],
  ])('%s %o → %s', (type, mode, text) => expect(modeString(type, mode)).toBe(text));
});

describe('ellipsis', () => {
  it('cuts to the width with … as the last character', () => {
    expect(ellipsis('abcdef', 6)).toBe('abcdef');
    expect(ellipsis('abcdefg', 6)).toBe('abcde…');
  });
});

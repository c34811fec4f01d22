import { describe, expect, it } from 'vitest';
import {
  isAfterBound,
  matchesFilters,
  parseDuration,
  parseFilters,
  parsePositiveInt,
  parseRepoRef,
  parseTagRef,
  parseTagSource,
  parseTimeBound,
  streamCategory,
  timeBoundParam,
} from './args.js';
import { UsageError } from './errors.js';

const now = new Date('2024-05-01T12:00:00.000Z');
const hex = 'a'.repeat(64);

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['45s', 45_000],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['1.5d', 129_600_000],
    ['1w', 604_800_000],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '10', 'm', '10x', '-5m', '10 m', '1h 30m'])('"%s" is not a duration', (text) => {
    expect(parseDuration(text)).toBeNull();
  });
});

describe('parseTimeBound', () => {
  it('reads digits as a position, never as a Unix time', () => {
    expect(parseTimeBound('42', now)).toEqual({ kind: 'position', position: 42 });
    expect(parseTimeBound('1714564800', now)).toEqual({ kind: 'position', position: 1714564800 });
    expect(timeBoundParam(parseTimeBound('0', now))).toBe('0');
  });

  it('turns a relative duration into an ISO time before now', () => {
    expect(parseTimeBound('10m', now)).toEqual({ kind: 'time', iso: '2024-05-01T11:50:00.000Z' });
    expect(timeBoundParam(parseTimeBound('2h', now))).toBe('2024-05-01T10:00:00.000Z');
  });

  it('normalises ISO times to UTC', () => {
    expect(timeBoundParam(parseTimeBound('2024-05-01T10:32:00Z', now))).toBe('2024-05-01T10:32:00.000Z');
    expect(timeBoundParam(parseTimeBound('2024-05-01T12:32:00+02:00', now))).toBe('2024-05-01T10:32:00.000Z');
    expect(timeBoundParam(parseTimeBound('2024-05-01', now))).toBe('2024-05-01T00:00:00.000Z');
    expect(timeBoundParam(parseTimeBound('2024-05-01 10:32:00Z', now))).toBe('2024-05-01T10:32:00.000Z');
  });

  it.each(['yesterday', 'May 1', '2024-13-45', '10 minutes', '12:00', '-3'])('refuses "%s" as a usage error', (text) => {
    expect(() => parseTimeBound(text, now, '--since')).toThrow(UsageError);
    expect(() => parseTimeBound(text, now, '--since')).toThrow(/--since/);
  });

  it('compares events with an until bound by position or by time', () => {
    expect(isAfterBound({ kind: 'position', position: 10 }, 10, '2030-01-01T00:00:00Z')).toBe(false);
    expect(isAfterBound({ kind: 'position', position: 10 }, 11, '2000-01-01T00:00:00Z')).toBe(true);
    const t = { kind: 'time', iso: '2024-05-01T10:00:00.000Z' } as const;
    expect(isAfterBound(t, 999, '2024-05-01T10:00:00.000Z')).toBe(false);
    expect(isAfterBound(t, 1, '2024-05-01T10:00:00.001Z')).toBe(true);
  });
});

describe('parseRepoRef / parseTagRef', () => {
  it('splits repo and tag at the last colon', () => {
    expect(parseRepoRef('app:latest')).toEqual({ name: 'app', tag: 'latest' });
    expect(parseRepoRef('library/nginx:1.25.3-alpine')).toEqual({ name: 'library/nginx', tag: '1.25.3-alpine' });
    expect(parseRepoRef('app')).toEqual({ name: 'app', tag: null });
  });

  it('keeps a registry port in the name, as Docker does', () => {
    expect(parseRepoRef('localhost:5000/app')).toEqual({ name: 'localhost:5000/app', tag: null });
    expect(parseRepoRef('localhost:5000/app:v1')).toEqual({ name: 'localhost:5000/app', tag: 'v1' });
  });

  it('defaults a missing tag to latest where a tag is needed', () => {
    expect(parseTagRef('app')).toEqual({ name: 'app', tag: 'latest' });
    expect(parseTagRef('app:v2')).toEqual({ name: 'app', tag: 'v2' });
  });

  it.each(['', ':latest', 'app:', 'app:-x', 'app:.x', `app:${'x'.repeat(129)}`, 'app:a/b:', 'app@sha256:abc'])(
    'refuses "%s"',
    (text) => expect(() => parseRepoRef(text)).toThrow(UsageError),
  );

  it('accepts a 128-character tag', () => {
    expect(parseRepoRef(`app:${'x'.repeat(128)}`).tag).toHaveLength(128);
  });
});

describe('parseTagSource', () => {
  it('passes every image reference to the node to resolve, full digests included', () => {
    expect(parseTagSource(`sha256:${hex}`)).toEqual({ image: `sha256:${hex}` });
    expect(parseTagSource('base:v1')).toEqual({ image: 'base:v1' });
    expect(parseTagSource('library/base')).toEqual({ image: 'library/base' });
    expect(parseTagSource(`app@sha256:${hex}`)).toEqual({ image: `app@sha256:${hex}` });
    expect(parseTagSource('3f2a1b4c')).toEqual({ image: '3f2a1b4c' });
    expect(parseTagSource('sha256:3f2a')).toEqual({ image: 'sha256:3f2a' });
  });
  it.each(['sha256:abc', `sha256:${'A'.repeat(64)}`, `sha256:${hex}0`, 'sha256:', ''])('refuses the malformed digest or prefix "%s"', (text) => {
    expect(() => parseTagSource(text)).toThrow(UsageError);
  });
});

describe('parseFilters', () => {
  it('reads key=value pairs; type repeats or is comma-separated', () => {
    expect(
      parseFilters(['stream=repository-app', 'type=ImageTagged', 'type=ImageUntagged,RepositoryCreated', 'actor=admin']),
    ).toEqual({ stream: 'repository-app', type: ['ImageTagged', 'ImageUntagged', 'RepositoryCreated'], actor: 'admin' });
    expect(parseFilters(['correlationId=c-1', 'category=repository'])).toEqual({ correlationId: 'c-1', category: 'repository' });
    expect(parseFilters([])).toEqual({});
  });

  it('keeps "=" inside the value', () => {
    expect(parseFilters(['actor=a=b'])).toEqual({ actor: 'a=b' });
  });

  it.each([['nokey'], ['=x'], ['actor='], ['colour=red'], ['actor=a', 'actor=b']])('refuses %j', (...specs) => {
    expect(() => parseFilters(specs)).toThrow(UsageError);
  });

  it('matches events client-side the same way', () => {
    const event = { streamId: 'repository-library/app', type: 'ImageTagged', actor: 'admin', correlationId: 'c-1' };
    expect(streamCategory(event.streamId)).toBe('repository');
    expect(matchesFilters({}, event)).toBe(true);
    expect(matchesFilters({ category: 'repository', type: ['RepositoryCreated', 'ImageTagged'] }, event)).toBe(true);
    expect(matchesFilters({ category: 'container' }, event)).toBe(false);
    expect(matchesFilters({ stream: 'repository-library/app', actor: 'bob' }, event)).toBe(false);
    expect(matchesFilters({ correlationId: 'c-2' }, event)).toBe(false);
  });
});

describe('parsePositiveInt', () => {
  it('reads positive integers only', () => {
    expect(parsePositiveInt('25', '--limit')).toBe(25);
    for (const bad of ['0', '-1', '1.5', 'ten', '']) expect(() => parsePositiveInt(bad, '--limit')).toThrow(UsageError);
  });
});

/**
 * Parsing of the CLI's own argument syntax: time bounds, `repo:tag` references, filters. Pure functions
 * (the clock comes in as an argument) so they are unit-tested without a node.
 */
import { UsageError } from './errors.js';

// ---- time bounds: --since / --until / --at ----------------------------------------------------------

/** What the API accepts for since/until/at: a position (digits) or an ISO time. */
export type TimeBound = { kind: 'position'; position: number } | { kind: 'time'; iso: string };

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;

/** `10m`, `2h`, `1h30m`, `1.5d`, `500ms` → milliseconds; null if the text is not a duration. */
export function parseDuration(text: string): number | null {
  if (!DURATION.test(text)) return null;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) total += Number(amount) * UNIT_MS[unit!]!;
  return total;
}

// A date, optionally with a time and zone: what Date.parse understands unambiguously. Anything looser
// (e.g. "May 1") is refused rather than guessed at.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * A `--since/--until/--at` value: a position (all digits), an ISO time, or a duration ago (`10m` = ten
 * minutes before `now`). Digits always mean a position, never a Unix timestamp: positions are what the
 * log is ordered by, and a number that could mean either would be a trap.
 */
export function parseTimeBound(text: string, now: Date = new Date(), option = 'time'): TimeBound {
  const value = text.trim();
  if (/^\d+$/.test(value)) {
    const position = Number(value);
    if (!Number.isSafeInteger(position)) throw new UsageError(`${option}: position ${value} is too large`);
    return { kind: 'position', position };
  }
  const ago = parseDuration(value);
  if (ago !== null) return { kind: 'time', iso: new Date(now.getTime() - ago).toISOString() };
  if (ISO_TIME.test(value)) {
    const ms = Date.parse(value.replace(' ', 'T'));
    if (!Number.isNaN(ms)) return { kind: 'time', iso: new Date(ms).toISOString() };
  }
  throw new UsageError(
    `${option}: "${text}" is neither a position (e.g. 42), an ISO time (e.g. 2024-05-01T10:32:00Z) nor a duration (e.g. 10m, 2h, 1h30m)`,
  );
}

/** The query-string form of a bound: positions as digits, times as ISO-8601 UTC. */
export const timeBoundParam = (bound: TimeBound): string =>
  bound.kind === 'position' ? String(bound.position) : bound.iso;

/** Whether an event at (position, time) lies beyond an `until` bound. */
export function isAfterBound(bound: TimeBound, position: number, occurredAt: string): boolean {
  return bound.kind === 'position' ? position > bound.position : Date.parse(occurredAt) > Date.parse(bound.iso);
}

// ---- repository references ---------------------------------------------------------------------

/** Docker's tag grammar. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export interface RepoRef {
  name: string;
  tag: string | null;
}

/**
 * `<repo>[:<tag>]`, split as Docker does: the tag is after the last ':' only if no '/' follows it, so a
 * registry host with a port (`localhost:5000/app`) stays part of the name. The name itself is left to
 * the node to validate (one grammar, one place); the tag is checked here because a bad one would
 * otherwise be taken for part of the path.
 */
export function parseRepoRef(text: string): RepoRef {
  if (text.includes('@')) throw new UsageError(`"${text}": digest references (name@sha256:...) are not accepted here`);
  const colon = text.lastIndexOf(':');
  const slash = text.lastIndexOf('/');
  if (colon <= slash) {
    if (text === '') throw new UsageError('repository name is empty');
    return { name: text, tag: null };
  }
  const name = text.slice(0, colon);
  const tag = text.slice(colon + 1);
  if (name === '') throw new UsageError(`"${text}": repository name is empty`);
  if (!TAG.test(tag)) {
    throw new UsageError(`"${text}": invalid tag "${tag}" (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')`);
  }
  return { name, tag };
}

/** `<repo>[:<tag>]` where a tag is required; like `docker tag`, a missing one means `latest`. */
export function parseTagRef(text: string): { name: string; tag: string } {
  const ref = parseRepoRef(text);
  return { name: ref.name, tag: ref.tag ?? 'latest' };
}

/**
 * The source of `strata tag <source> <target>`: any image reference (`repo:tag`, `repo@sha256:…`, a
 * manifest digest, an image id, an id prefix), resolved by the node. Even a full digest goes as a
 * reference rather than as `{digest}`: `{digest}` means a manifest digest only, while the digest people
 * have at hand is usually the image id (`strata images --no-trunc`, `Loaded image ID:`).
 */
export type TagSource = { image: string };

/** `sha256:` then a full digest (64 hex) or an id prefix (at least 4, as the API requires). */
const DIGEST_OR_PREFIX = /^sha256:[0-9a-f]{4,64}$/;

export function parseTagSource(text: string): TagSource {
  if (text.trim() === '') throw new UsageError('the source image is empty');
  // Checked here because the node would read a malformed one as a repository named "sha256".
  if (text.startsWith('sha256:') && !DIGEST_OR_PREFIX.test(text)) {
    throw new UsageError(`"${text}": after sha256: come 64 lowercase hex characters (a digest) or at least 4 (an id prefix)`);
  }
  return { image: text };
}

// ---- event filters ----------------------------------------------------------------------------

/** The filters GET /events understands (`--filter key=value`). */
export interface EventFilters {
  stream?: string;
  category?: string;
  type?: string[];
  actor?: string;
  correlationId?: string;
}

const SINGLE_FILTERS = ['stream', 'category', 'actor', 'correlationId'] as const;

/**
 * `--filter key=value`, repeatable. `type` may repeat (or be comma-separated) and means any of them, as
 * the API does; the other keys name one value each, so a second one is a mistake, not an OR.
 */
export function parseFilters(specs: readonly string[]): EventFilters {
  const filters: EventFilters = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0 || eq === spec.length - 1) throw new UsageError(`--filter "${spec}": expected key=value`);
    const key = spec.slice(0, eq);
    const value = spec.slice(eq + 1);
    if (key === 'type') {
      const types = value.split(',').map((t) => t.trim()).filter(Boolean);
      filters.type = [...(filters.type ?? []), ...types];
    } else if ((SINGLE_FILTERS as readonly string[]).includes(key)) {
      const k = key as (typeof SINGLE_FILTERS)[number];
      if (filters[k] !== undefined) throw new UsageError(`--filter ${key}= given twice: each key but type takes one value`);
      filters[k] = value;
    } else {
      throw new UsageError(`--filter "${spec}": unknown key "${key}" (use stream, category, type, actor, correlationId)`);
    }
  }
  return filters;
}

/** An event's category is its aggregate type: the stream id's prefix (`repository-library/nginx`). */
export const streamCategory = (streamId: string): string => {
  const dash = streamId.indexOf('-');
  return dash < 0 ? streamId : streamId.slice(0, dash);
};

/** Client-side check of the same filters, so a live stream is filtered even if the node ignores them. */
export function matchesFilters(
  filters: EventFilters,
  event: { streamId: string; type: string; actor: string; correlationId: string },
): boolean {
  if (filters.stream !== undefined && event.streamId !== filters.stream) return false;
  if (filters.category !== undefined && streamCategory(event.streamId) !== filters.category) return false;
  if (filters.type !== undefined && filters.type.length > 0 && !filters.type.includes(event.type)) return false;
  if (filters.actor !== undefined && event.actor !== filters.actor) return false;
  if (filters.correlationId !== undefined && event.correlationId !== filters.correlationId) return false;
  return true;
}

// ---- numbers ------------------------------------------------------------------------------------

export function parsePositiveInt(text: string, option: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${option}: expected a positive integer, got "${text}"`);
  }
  return Number(text);
}

export function parsePosition(text: string, option: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${option}: expected a position (a non-negative integer), got "${text}"`);
  }
  return Number(text);
}

/** A whole number of seconds, 0 allowed (`stop -t 0` kills at once, as Docker's does). */
export function parseSeconds(text: string, option: string): number {
  if (!/^\d{1,6}$/.test(text)) throw new UsageError(`${option}: expected whole seconds (e.g. 10), got "${text}"`);
  return Number(text);
}

// ---- container logs ----------------------------------------------------------------------------

/**
 * `logs --since`: a duration ago (`10m`) or an ISO time, sent as ISO. Log lines carry no positions, and
 * digits mean a position everywhere else in this CLI, so a bare number is refused rather than read as a
 * Unix timestamp the way Docker would.
 */
export function parseLogSince(text: string, now: Date): string {
  const bound = parseTimeBound(text, now, '--since');
  if (bound.kind === 'position') {
    throw new UsageError(`--since: log lines have no positions; give a duration (10m, 2h) or an ISO time (2024-05-01T10:32:00Z)`);
  }
  return bound.iso;
}

/** `logs --tail`: a line count, or `all` (the default: every line). */
export function parseTail(text: string): number | undefined {
  if (text === 'all') return undefined;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--tail: expected a number of lines or "all", got "${text}"`);
  }
  return Number(text);
}

import { RegistryError } from './errors.js';

/** More than this per page is cut, with a Link to the rest (the spec lets a registry choose its limit). */
export const MAX_PAGE = 1000;

export interface Page<T> {
  items: T[];
  /** The last item of this page when more follow: the next request's `last`. */
  next: T | null;
}

/** `?n=` as a page size: absent means "all" (up to MAX_PAGE); not a non-negative integer is an error. */
export function parsePageSize(value: unknown): number {
  if (value === undefined || value === '') return MAX_PAGE;
  if (typeof value !== 'string' || !/^\d+$/.test(value)) {
    throw new RegistryError('PAGINATION_NUMBER_INVALID', `n must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return Math.min(Number(value), MAX_PAGE);
}

/**
 * The spec's paging for tags/list and _catalog: sorted lexically, only entries after `last`, at
 * most `n` of them. Sorting by code unit (not locale) is what makes `last` a stable cursor.
 */
export function pageOf(all: readonly string[], n: number, last: unknown): Page<string> {
  const after = typeof last === 'string' && last !== '' ? last : null;
  const sorted = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const rest = after === null ? sorted : sorted.filter((item) => item > after);
  const items = rest.slice(0, n);
  const more = rest.length > items.length && items.length > 0;
  return { items, next: more ? items[items.length - 1]! : null };
}

/** The RFC 5988 `Link` header pointing at the next page: `<path?n=&last=>; rel="next"`. */
export function nextLink(path: string, n: number, next: string): string {
  return `<${path}?${new URLSearchParams({ n: String(n), last: next }).toString()}>; rel="next"`;
}

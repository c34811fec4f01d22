/** Output helpers: aligned tables for people, JSON for machines. */

export type Cell = string | number | null | undefined;

const GAP = '   ';

const cellText = (cell: Cell): string => (cell === null || cell === undefined || cell === '' ? '-' : String(cell));

/**
 * Columns padded to their widest cell, separated by three spaces, as `docker ps` prints them. Numeric
 * columns (every cell a number) are right-aligned so positions line up by magnitude. The last column is
 * not padded, so lines carry no trailing blanks. An empty table is still its header line: a script or a
 * person then sees "nothing" rather than wondering whether the command ran.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const texts = rows.map((row) => headers.map((_, i) => cellText(row[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...texts.map((r) => r[i]!.length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const line = (cells: readonly string[], header: boolean) =>
    cells
      .map((c, i) => {
        if (numeric[i] && !header) return c.padStart(widths[i]!);
        return i === cells.length - 1 ? c : c.padEnd(widths[i]!);
      })
      .join(GAP)
      .trimEnd();
  return [line(headers, true), ...texts.map((r) => line(r, false))].join('\n');
}

/** Two-column "key   value" block, for single objects such as `strata status`. */
export function formatFields(fields: readonly (readonly [string, Cell])[]): string {
  const width = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${k.padEnd(width)}${GAP}${cellText(v)}`).join('\n');
}

/**
 * A digest as people read it: the first 12 hex characters, like Docker's short image ids. Anything
 * that is not a sha256 digest is shown as it is; null (a tag set from nothing / removed) as '-'.
 */
export function shortDigest(digest: string | null | undefined): string {
  if (digest === null || digest === undefined) return '-';
  const m = /^sha256:([0-9a-f]{12})[0-9a-f]*$/.exec(digest);
  return m ? m[1]! : digest;
}

/** RFC 4180 field: quoted only when it must be. */
export function csvField(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const csvLine = (values: readonly unknown[]): string => values.map(csvField).join(',');

/** `3h 2m`, `45s`: an uptime at a glance. */
export function formatSeconds(total: number): string {
  const s = Math.floor(total);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [d && `${d}d`, h && `${h}h`, m && `${m}m`].filter(Boolean) as string[];
  if (parts.length === 0 || (d === 0 && h === 0)) parts.push(`${s % 60}s`);
  return parts.join(' ');
}

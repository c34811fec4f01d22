/**
 * Sizes, ages and modes the way Docker and `ls -l` print them, so output reads like the tools people
 * already know. Pure functions (the clock comes in as an argument).
 */

const SIZE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/**
 * Docker's `HumanSizeWithPrecision(size, 3)`: decimal units (base 1000), three significant digits, no
 * space: 0B, 999B, 1.23kB, 45.6MB, 123MB.
 */
export function humanSize(bytes: number): string {
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < SIZE_UNITS.length - 1) {
    size /= 1000;
    unit++;
  }
  let digits = Number(size.toPrecision(3));
  // 999.6kB rounds to 1000kB: say 1MB instead (where Go's %g would print 1e+03kB).
  if (digits >= 1000 && unit < SIZE_UNITS.length - 1) {
    digits = Number((digits / 1000).toPrecision(3));
    unit++;
  }
  return `${digits}${SIZE_UNITS[unit]}`;
}

/** Docker's `HumanDuration`: "Less than a second", "About a minute", "3 hours", "2 weeks"… */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(Math.floor(ms / 3_600_000) / 24 / 365)} years`;
}

/** "3 minutes ago", or N/A for an image without a creation time (as Docker shows it). */
export function timeAgo(iso: string | null, now: Date): string {
  const ms = iso === null ? Number.NaN : Date.parse(iso);
  if (Number.isNaN(ms)) return 'N/A';
  return `${humanDuration(now.getTime() - ms)} ago`;
}

const TYPE_CHAR: Record<string, string> = { dir: 'd', file: '-', symlink: 'l', hardlink: 'h', fifo: 'p' };

/**
 * `drwxr-xr-x`, `-rwsr-xr-x`, `lrwxrwxrwx`: the type letter (`h` for a hard link, as `tar tv` marks
 * it) and the permission bits with setuid, setgid and sticky folded in as ls does.
 */
export function modeString(type: string, mode: number): string {
  const bit = (mask: number, char: string) => (mode & mask ? char : '-');
  const special = (exec: number, flag: number, set: string) => {
    if (mode & flag) return mode & exec ? set : set.toUpperCase();
    return mode & exec ? 'x' : '-';
  };
  return [
    TYPE_CHAR[type] ?? '?',
    bit(0o400, 'r'), bit(0o200, 'w'), special(0o100, 0o4000, 's'),
    bit(0o040, 'r'), bit(0o020, 'w'), special(0o010, 0o2000, 's'),
    bit(0o004, 'r'), bit(0o002, 'w'), special(0o001, 0o1000, 't'),
  ].join('');
}

/** Docker's `Ellipsis`: at most `max` characters, the last one `…` when cut. */
export function ellipsis(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

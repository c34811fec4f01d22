import { existsSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** runc's path: as given, or found on PATH and in the sbin directories a non-login PATH may lack. */
export function findRunc(given: string | undefined): string | undefined {
  if (given && (isAbsolute(given) || given.includes('/'))) return existsSync(given) ? given : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);
  return dirs.map((d) => join(d, given ?? 'runc')).find((p) => existsSync(p));
}

/**
 * Whether cgroup v1 accounts swap (memory.memsw.*): then the memory limit caps swap too, so an
 * overflow is an OOM kill rather than swapping. Elsewhere (v2, or no swap accounting) swap is left
 * alone: setting it where the kernel cannot account it makes runc refuse to start.
 */
export function swapAccounting(): boolean {
  return existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
}

import { readFileSync } from 'node:fs';

/** The package version, read once from package.json at the repository root. */
export const STRATA_VERSION: string = (() => {
  // apps/strata/src (sources) is 3 levels below the root; dist/apps/strata/apps/strata/src is 6.
  for (const rel of ['../../../package.json', '../../../../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'strata' && pkg.version) return pkg.version;
    } catch {
      // not at this depth (source vs dist layouts differ); try the next
    }
  }
  return '0.0.0';
})();

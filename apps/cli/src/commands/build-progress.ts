/** `docker build`'s way of telling a build as it goes: Step n/N, the RUN output, the cache hits. */
import type { BuildProgress } from '@strata/api';
import { shortDigest } from '../table.js';

export function describeProgress(p: BuildProgress): string[] {
  switch (p.type) {
    case 'started':
      return [`build ${p.buildId}: ${p.total} steps`, ...p.warnings.map((w) => `[warning] ${w}`)];
    case 'step':
      return [`Step ${p.n}/${p.total} : ${p.instruction}`];
    case 'output':
      return [p.line];
    case 'step-completed':
      return p.cached ? [' ---> Using cache', ` ---> ${shortDigest(p.imageId)}`] : [` ---> ${shortDigest(p.imageId)}`];
    case 'completed':
      return [];
    case 'failed':
      return [];
  }
}

/**
 * Where the time goes: runs one contender under the V8 CPU profiler and prints the top self-time
 * functions. Usage (from bench/):
 *   node --import tsx tools/profile.ts replay [events]      # ProjectionEngine catch-up from 0
 *   node --import tsx tools/profile.ts command [perStream] [concurrent]  # command path, 64 streams: 1 writer, or 64 ("concurrent")
 */
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { repositoryStreams } from '../lib/events.ts';
import { withTempDir } from '../lib/tmp.ts';
import { strataCommand } from '../workloads/append.ts';
import { populateStrata, strataReplay } from '../workloads/read.ts';

const what = process.argv[2] ?? 'replay';
const size = Number(process.argv[3] ?? (what === 'replay' ? 50_000 : 16));

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }

await withTempDir(async (dir) => {
  let run: () => Promise<unknown>;
  if (what === 'replay') {
    const db = join(dir, 'strata.db');
    populateStrata(db, repositoryStreams(Math.ceil(size / 200), 200, 'full'));
    run = () => strataReplay(db, dir);
  } else {
    const streams = repositoryStreams(64, size, 'tags');
    run = () => strataCommand(dir, streams, process.argv[4] === 'concurrent' ? 'concurrent' : 'sequential');
  }
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  const t0 = performance.now();
  await run();
  const ms = performance.now() - t0;
  const { profile } = (await session.post('Profiler.stop')) as { profile: { nodes: Node[]; samples: number[] } };
  const total = profile.samples.length;
  const self = new Map<string, number>();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|libs|apps)\//, '$1/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (n.hitCount ?? 0));
  }
  console.log(`${what}: ${ms.toFixed(0)} ms; top self time (${total} samples):`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
});

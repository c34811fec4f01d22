/**
 * Runs one read/replay contender `runs` times in its own process, so its peak RSS is its own.
 * argv[2]: JSON { contender, strataDb, emmettDb, streams, perStream, runs }. Prints one JSON line.
 */
import { repositoryStreams } from '../lib/events.ts';
import { rate, repeat } from '../lib/stats.ts';
import { withTempDir } from '../lib/tmp.ts';
import { emmettRead, rawIterate, rawReadInsert, rawReadInsertRebuild, strataAdminReplay, strataRead, strataReplay } from './read.ts';

const spec = JSON.parse(process.argv[2]) as {
  contender: string;
  strataDb: string;
  emmettDb: string;
  streams: number;
  perStream: number;
  runs: number;
};
const streams = spec.contender === 'emmett-read' ? repositoryStreams(spec.streams, spec.perStream, 'full') : [];
const baselineRss = process.memoryUsage().rss;
let expected = -1;
const result = await withTempDir(async (dir) => {
  const once = async () => {
    const r =
      spec.contender === 'raw-iterate' ? await rawIterate(spec.strataDb)
      : spec.contender === 'strata-read' ? await strataRead(spec.strataDb)
      : spec.contender === 'raw-read-insert' ? await rawReadInsert(spec.strataDb, dir)
      : spec.contender === 'raw-read-insert-rebuild' ? await rawReadInsertRebuild(spec.strataDb, dir)
      : spec.contender === 'strata-replay' ? await strataReplay(spec.strataDb, dir)
      : spec.contender === 'strata-admin-replay' ? await strataAdminReplay(spec.strataDb, dir)
      : spec.contender === 'emmett-read' ? await emmettRead(spec.emmettDb, streams)
      : (() => { throw new Error(`unknown contender ${spec.contender}`); })();
    if (expected >= 0 && r.events !== expected) throw new Error(`${spec.contender}: ${r.events} events, expected ${expected}`);
    expected = r.events;
    return rate(r.events, r.ms);
  };
  return repeat(spec.runs, once);
});
process.stdout.write(
  `${JSON.stringify({ runs: result, events: expected, baselineRssMiB: baselineRss / 2 ** 20, peakRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`,
);

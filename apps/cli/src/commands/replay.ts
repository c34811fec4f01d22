/** `strata replay`: rebuild every read model from the log and prove it with checksums. */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import type { ReplayProgress } from '@strata/api';
import type { Context } from '../context.js';
import { formatFields } from '../table.js';

type ContextOf = (command: Command) => Context;

/** Without a terminal (CI logs, pipes) a redrawn bar is noise: one plain line at most this often. */
const PLAIN_INTERVAL_MS = 1000;

export function registerReplay(program: Command, contextOf: ContextOf): void {
  program
    .command('replay')
    .description('rebuild all read models from the event log; prints the read-model checksum before and after')
    .action(async (_options: unknown, command: Command) => {
      const ctx = contextOf(command);
      const progress = ctx.io.stderr.isTTY ? barReporter(ctx) : plainReporter(ctx);
      let result;
      try {
        result = await ctx.client.replay(progress.update);
      } finally {
        progress.stop();
      }
      const { checksumBefore, checksumAfter, events, seconds } = result;
      // Exactly these four fields: scripts compare checksums, and the result line's `kind` is transport.
      if (ctx.json) return ctx.printJson({ checksumBefore, checksumAfter, events, seconds });
      ctx.print(
        formatFields([
          ['events', events],
          // Rounded for reading; --json carries the exact value.
          ['seconds', Number(seconds.toFixed(3))],
          ['checksum before', checksumBefore],
          ['checksum after', checksumAfter],
        ]),
      );
      if (checksumBefore === checksumAfter) ctx.print('checksums match: the rebuilt read models are identical');
      else {
        // Still a success: the replay did its job. But a difference means the read models had drifted
        // from the log (or a projector is not deterministic), which someone should look into.
        ctx.note('warning: the checksums differ: the read models before the replay did not match what the log rebuilds');
      }
    });
}

interface Reporter {
  update: (p: ReplayProgress) => void;
  stop: () => void;
}

function barReporter(ctx: Context): Reporter {
  const bar = new cliProgress.SingleBar(
    {
      stream: ctx.io.stderr,
      format: 'replay [{bar}] {percentage}% | position {value}/{total} | {events} events | eta {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      if (!started) {
        bar.start(Math.max(p.head, 1), p.position, { events: p.events });
        started = true;
      }
      bar.setTotal(Math.max(p.head, 1));
      bar.update(p.position, { events: p.events });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function plainReporter(ctx: Context): Reporter {
  let lastPrint = 0;
  return {
    update(p) {
      const now = Date.now();
      if (now - lastPrint < PLAIN_INTERVAL_MS) return;
      lastPrint = now;
      const pct = p.head > 0 ? Math.floor((100 * p.position) / p.head) : 100;
      ctx.note(`replay: position ${p.position}/${p.head} (${pct}%), ${p.events} events`);
    },
    stop() {},
  };
}

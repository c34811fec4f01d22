/**
 * Progress of an archive upload on stderr: a bar on a terminal; elsewhere (CI logs, pipes) one line
 * when the upload is done, because a redrawn bar is noise in a log.
 */
import cliProgress from 'cli-progress';
import type { UploadProgress } from '../client.js';
import type { Context } from '../context.js';
import { humanSize } from '../human.js';

export interface UploadReporter {
  update: UploadProgress;
  /** The request ended (well or not): the bar is finished, the plain line printed on success. */
  stop(succeeded: boolean): void;
}

export function uploadReporter(ctx: Context, label: string): UploadReporter {
  return ctx.io.stderr.isTTY ? barReporter(ctx, label) : plainReporter(ctx, label);
}

const silent: UploadReporter = { update: () => undefined, stop: () => undefined };

/** Runs an upload with a reporter around it (none when quiet). */
export async function withUploadProgress<T>(
  ctx: Context,
  label: string,
  quiet: boolean,
  upload: (onProgress: UploadProgress) => Promise<T>,
): Promise<T> {
  const reporter = quiet ? silent : uploadReporter(ctx, label);
  let succeeded = false;
  try {
    const result = await upload(reporter.update);
    succeeded = true;
    return result;
  } finally {
    reporter.stop(succeeded);
  }
}

function barReporter(ctx: Context, label: string): UploadReporter {
  let bar: cliProgress.SingleBar | null = null;
  return {
    update(sent, total) {
      if (bar === null) {
        // Without a known total (stdin, a directory sent as a tar) there is no bar to fill: bytes only.
        const format = total === null ? `${label} {sent} sent` : `${label} [{bar}] {percentage}% | {sent}/{size} | eta {eta_formatted}`;
        bar = new cliProgress.SingleBar(
          { stream: ctx.io.stderr, format, hideCursor: true, clearOnComplete: false },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.max(total ?? 0, 1), 0, { sent: humanSize(0), size: humanSize(total ?? 0) });
      }
      // An estimated total (a layout's tar) may fall a little short: never show more than 100 %.
      if (total !== null) bar.setTotal(Math.max(total, sent, 1));
      bar.update(total === null ? 0 : sent, { sent: humanSize(sent), size: humanSize(Math.max(total ?? 0, sent)) });
    },
    stop() {
      bar?.stop();
    },
  };
}

function plainReporter(ctx: Context, label: string): UploadReporter {
  let sent = 0;
  return {
    update(bytes) {
      sent = bytes;
    },
    stop(succeeded) {
      if (succeeded) ctx.note(`${label}: sent ${humanSize(sent)}`);
    },
  };
}

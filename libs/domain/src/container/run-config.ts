import type { ImageRunConfig } from '../image/events.js';
import { invalid } from '../shared/errors.js';
import type { ContainerRunConfig } from './events.js';

/** What `docker create` lets a user override. Absent fields keep the image's. */
export interface RunOverrides {
  cmd?: string[];
  entrypoint?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  labels?: Record<string, string>;
  hostname?: string;
  stopSignal?: string;
  stopTimeoutSeconds?: number;
}

const ENV = /^[^=\0]+(=[^\0]*)?$/;

/**
 * Docker's merge of an image config with `docker create` options: a new entrypoint drops the image's
 * cmd unless a cmd is given too; env entries replace the image's by key; labels merge; the working dir
 * defaults to "/". A container with nothing to run is refused.
 */
export function mergeRunConfig(image: ImageRunConfig, o: RunOverrides, defaults: { hostname: string }): ContainerRunConfig {
  const entrypoint = o.entrypoint ?? image.entrypoint;
  const cmd = o.cmd ?? (o.entrypoint !== undefined ? null : image.cmd);
  if ((entrypoint?.length ?? 0) + (cmd?.length ?? 0) === 0) {
    throw invalid('NO_COMMAND', 'no command to run: the image has no Cmd or Entrypoint, give one (e.g. sh -c "…")');
  }
  const env = new Map<string, string>();
  for (const entry of [...image.env, ...(o.env ?? [])]) {
    if (!ENV.test(entry)) throw invalid('INVALID_ENV', `invalid environment entry ${JSON.stringify(entry)}: use NAME=value`);
    env.set(entry.split('=')[0]!, entry.includes('=') ? entry : `${entry}=`);
  }
  if (!env.has('PATH')) env.set('PATH', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  const workingDir = o.workingDir ?? image.workingDir ?? '/';
  if (!workingDir.startsWith('/')) throw invalid('INVALID_WORKDIR', `the working directory must be absolute, got "${workingDir}"`);
  const stopTimeoutSeconds = o.stopTimeoutSeconds ?? 10;
  if (!Number.isInteger(stopTimeoutSeconds) || stopTimeoutSeconds < 0 || stopTimeoutSeconds > 3600) {
    throw invalid('INVALID_STOP_TIMEOUT', 'the stop timeout is 0-3600 seconds');
  }
  return {
    entrypoint,
    cmd,
    env: [...env.values()],
    workingDir,
    user: o.user ?? image.user ?? '',
    labels: { ...image.labels, ...(o.labels ?? {}) },
    hostname: o.hostname ?? defaults.hostname,
    stopSignal: o.stopSignal ?? image.stopSignal ?? 'SIGTERM',
    stopTimeoutSeconds,
  };
}

import type { ConfigChange } from '@strata/domain';
import type { ContainerConfig } from '@strata/layers';

/**
 * A config-only step's change applied to the parent image's config, as Docker applies them: ENV
 * replaces a variable where it stands (or appends it), LABEL, EXPOSE and VOLUME add, the rest replace.
 * The answer holds whole fields (withLayer replaces fields, never merges them).
 */
export function configChanges(base: ContainerConfig, change: ConfigChange): Partial<ContainerConfig> {
  const out: Partial<ContainerConfig> = {};
  if (change.env) {
    const env = [...(base.Env ?? [])];
    for (const [key, value] of change.env) {
      const at = env.findIndex((e) => e.split('=')[0] === key);
      if (at >= 0) env[at] = `${key}=${value}`;
      else env.push(`${key}=${value}`);
    }
    out.Env = env;
  }
  if (change.labels) out.Labels = { ...(base.Labels ?? {}), ...change.labels };
  if (change.exposedPorts) out.ExposedPorts = { ...(base.ExposedPorts ?? {}), ...Object.fromEntries(change.exposedPorts.map((p) => [p, {}])) };
  if (change.volumes) out.Volumes = { ...(base.Volumes ?? {}), ...Object.fromEntries(change.volumes.map((v) => [v, {}])) };
  if (change.cmd) out.Cmd = change.cmd;
  if (change.entrypoint) out.Entrypoint = change.entrypoint;
  if (change.workingDir !== undefined) out.WorkingDir = change.workingDir;
  if (change.user !== undefined) out.User = change.user;
  if (change.stopSignal !== undefined) out.StopSignal = change.stopSignal;
  return out;
}

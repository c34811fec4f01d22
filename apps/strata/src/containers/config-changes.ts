import { invalid } from '@strata/domain';
import type { ContainerConfig } from '@strata/layers';

/**
 * `docker commit --change`: Dockerfile instructions that change the image config. Each replaces the
 * parent's value (ENV and LABEL add to it, EXPOSE and VOLUME add entries), as Docker applies them.
 */
export function applyConfigChanges(base: ContainerConfig, changes: string[]): Partial<ContainerConfig> {
  const out: Partial<ContainerConfig> = {};
  let env = [...(base.Env ?? [])];
  const labels: Record<string, string> = { ...(base.Labels ?? {}) };
  const ports: Record<string, Record<string, unknown>> = { ...(base.ExposedPorts ?? {}) };
  const volumes: Record<string, Record<string, unknown>> = { ...(base.Volumes ?? {}) };
  for (const change of changes) {
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*\S)\s*$/.exec(change);
    if (!m) throw invalid('INVALID_CHANGE', `"${change}": expected an instruction and its arguments, e.g. CMD ["sh"]`);
    const [, word, args] = m as unknown as [string, string, string];
    switch (word.toUpperCase()) {
      case 'CMD':
        out.Cmd = commandForm(args);
        break;
      case 'ENTRYPOINT':
        out.Entrypoint = commandForm(args);
        break;
      case 'ENV':
        for (const [k, v] of pairs(args, change)) env = [...env.filter((e) => e.split('=')[0] !== k), `${k}=${v}`];
        out.Env = env;
        break;
      case 'LABEL':
        for (const [k, v] of pairs(args, change)) labels[k] = v;
        out.Labels = { ...labels };
        break;
      case 'WORKDIR':
        out.WorkingDir = args;
        break;
      case 'USER':
        out.User = args;
        break;
      case 'EXPOSE':
        for (const port of args.split(/\s+/)) ports[port.includes('/') ? port : `${port}/tcp`] = {};
        out.ExposedPorts = { ...ports };
        break;
      case 'VOLUME':
        for (const v of args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/)) volumes[v] = {};
        out.Volumes = { ...volumes };
        break;
      case 'STOPSIGNAL':
        out.StopSignal = args;
        break;
      default:
        throw invalid('INVALID_CHANGE', `"${word}" cannot be changed by a commit: use CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME or STOPSIGNAL`);
    }
  }
  return out;
}

/** JSON exec form `["a","b"]`, or the shell form `sh -c "…"` as Docker wraps it. */
function commandForm(args: string): string[] {
  if (args.startsWith('[')) {
    try {
      const parsed = JSON.parse(args) as unknown;
      if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return parsed;
    } catch {
      // not JSON: the shell form below, as Docker does
    }
  }
  return ['/bin/sh', '-c', args];
}

/** `K=V K2=V2` or the old `K V` form. */
function pairs(args: string, change: string): Array<[string, string]> {
  if (!args.includes('=')) {
    const [k, ...rest] = args.split(/\s+/);
    if (!k || rest.length === 0) throw invalid('INVALID_CHANGE', `"${change}": expected KEY=value`);
    return [[k, rest.join(' ')]];
  }
  return (args.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []).map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw invalid('INVALID_CHANGE', `"${change}": expected KEY=value`);
    return [pair.slice(0, eq), pair.slice(eq + 1).replace(/^"(.*)"$/, '$1')];
  });
}

import { invalid } from '../shared/errors.js';
import type { ParsedDockerfile, ParsedInstruction } from './dockerfile.js';
import { expandWord, expandWords, type Lookup } from './shell-words.js';

/** What a config-only step changes: `env`/`labels` set entries, `exposedPorts`/`volumes` add, the rest replace. */
export interface ConfigChange {
  env?: Array<[string, string]>;
  labels?: Record<string, string>;
  exposedPorts?: string[];
  volumes?: string[];
  cmd?: string[];
  entrypoint?: string[];
  workingDir?: string;
  user?: string;
  stopSignal?: string;
}

interface StepBase {
  /** 1-based, FROM is step 1 (as docker build counts). */
  n: number;
  line: number;
  keyword: ParsedInstruction['keyword'];
  /** The instruction as written: the history's created_by. */
  text: string;
}

/** One step of a build, variables expanded: what the node executes. */
export type BuildStep =
  | (StepBase & { kind: 'from'; image: string })
  | (StepBase & { kind: 'copy'; add: boolean; sources: string[]; dest: string; destIsDir: boolean; chown: string | null; chmod: number | null })
  | (StepBase & { kind: 'run'; command: string[]; env: string[] })
  | (StepBase & { kind: 'workdir'; path: string })
  | (StepBase & { kind: 'config'; change: ConfigChange });

export interface BuildPlan {
  steps: BuildStep[];
  /** --build-arg names no ARG declares (docker build warns about them). */
  unusedArgs: string[];
}

const fail = (i: ParsedInstruction, code: string, message: string) =>
  invalid(code, `Dockerfile line ${i.line}: ${message}`, { line: i.line, instruction: i.text });

/** ARGs before FROM, with their values: the only variables FROM may use. */
function globalArgs(file: ParsedDockerfile, buildArgs: Record<string, string>): Map<string, string | undefined> {
  const args = new Map<string, string | undefined>();
  for (const i of file.instructions) {
    if (i.keyword !== 'ARG') break;
    for (const [name, fallback] of argDeclarations(i, (n) => args.get(n), file.escape)) args.set(name, buildArgs[name] ?? fallback);
  }
  return args;
}

/** The image FROM names (`scratch` for none), its variables expanded. */
export function baseImageOf(file: ParsedDockerfile, buildArgs: Record<string, string> = {}): string {
  const from = file.instructions.find((i) => i.keyword === 'FROM')!;
  const args = globalArgs(file, buildArgs);
  const image = expandWord(from.args.split(/\s+/)[0]!, (n) => args.get(n), file.escape);
  if (!image) throw fail(from, 'DOCKERFILE_SYNTAX', 'FROM names no image (an empty variable?)');
  return image;
}

/**
 * The steps of a build, in order, with ARG and ENV variables expanded the way Docker does (ENV wins
 * over ARG; RUN, CMD and ENTRYPOINT are left to the shell). `baseEnv` and `baseWorkdir` are the base
 * image's, which ENV and relative WORKDIRs build on.
 */
export function planBuild(file: ParsedDockerfile, options: { buildArgs?: Record<string, string>; baseEnv?: string[]; baseWorkdir?: string | null } = {}): BuildPlan {
  const buildArgs = options.buildArgs ?? {};
  const escape = file.escape;
  const global = globalArgs(file, buildArgs);
  const used = new Set<string>([...global.keys()]);
  const env = new Map<string, string>();
  for (const entry of options.baseEnv ?? []) {
    const eq = entry.indexOf('=');
    env.set(eq < 0 ? entry : entry.slice(0, eq), eq < 0 ? '' : entry.slice(eq + 1));
  }
  const args = new Map<string, string | undefined>();
  const lookup: Lookup = (name) => env.get(name) ?? args.get(name);
  let workdir = options.baseWorkdir || '/';
  const steps: BuildStep[] = [];
  const start = file.instructions.findIndex((i) => i.keyword === 'FROM');
  for (const i of file.instructions.slice(start)) {
    const base: StepBase = { n: steps.length + 1, line: i.line, keyword: i.keyword, text: i.text };
    switch (i.keyword) {
      case 'FROM':
        steps.push({ ...base, kind: 'from', image: baseImageOf(file, buildArgs) });
        break;
      case 'ARG': {
        for (const [name, fallback] of argDeclarations(i, lookup, escape)) {
          used.add(name);
          args.set(name, buildArgs[name] ?? fallback ?? global.get(name));
        }
        steps.push({ ...base, kind: 'config', change: {} });
        break;
      }
      case 'ENV': {
        const pairs = keyValues(i, lookup, escape);
        for (const [k, v] of pairs) env.set(k, v);
        steps.push({ ...base, kind: 'config', change: { env: pairs } });
        break;
      }
      case 'LABEL':
        steps.push({ ...base, kind: 'config', change: { labels: Object.fromEntries(keyValues(i, lookup, escape)) } });
        break;
      case 'RUN': {
        const argEnv = [...args].filter(([k, v]) => v !== undefined && !env.has(k)).map(([k, v]) => `${k}=${v}`);
        steps.push({ ...base, kind: 'run', command: i.json ?? ['/bin/sh', '-c', i.args], env: argEnv });
        break;
      }
      case 'CMD':
        steps.push({ ...base, kind: 'config', change: { cmd: i.json ?? ['/bin/sh', '-c', i.args] } });
        break;
      case 'ENTRYPOINT':
        steps.push({ ...base, kind: 'config', change: { entrypoint: i.json ?? ['/bin/sh', '-c', i.args] } });
        break;
      case 'WORKDIR':
        workdir = absolute(expandWord(i.args, lookup, escape), workdir);
        steps.push({ ...base, kind: 'workdir', path: workdir });
        break;
      case 'USER':
        steps.push({ ...base, kind: 'config', change: { user: expandWord(i.args, lookup, escape) } });
        break;
      case 'STOPSIGNAL': {
        const signal = expandWord(i.args, lookup, escape);
        if (!/^(SIG[A-Z0-9]+|[A-Z0-9]+|\d{1,2})$/i.test(signal)) throw fail(i, 'DOCKERFILE_SYNTAX', `"${signal}" is not a signal`);
        steps.push({ ...base, kind: 'config', change: { stopSignal: signal } });
        break;
      }
      case 'EXPOSE': {
        const ports = expandWords(i.args, lookup, escape).map((p) => {
          if (!/^\d{1,5}(-\d{1,5})?(\/(tcp|udp|sctp))?$/i.test(p)) throw fail(i, 'DOCKERFILE_SYNTAX', `"${p}" is not a port (e.g. 80, 8080/tcp, 53/udp)`);
          return p.includes('/') ? p.toLowerCase() : `${p}/tcp`;
        });
        steps.push({ ...base, kind: 'config', change: { exposedPorts: ports } });
        break;
      }
      case 'VOLUME': {
        const volumes = i.json ?? expandWords(i.args, lookup, escape);
        if (volumes.length === 0 || volumes.some((v) => v === '')) throw fail(i, 'DOCKERFILE_SYNTAX', 'VOLUME needs a path');
        steps.push({ ...base, kind: 'config', change: { volumes } });
        break;
      }
      case 'COPY':
      case 'ADD': {
        const words = i.json ?? expandWords(i.args, lookup, escape);
        const sources = words.slice(0, -1);
        const rawDest = words.at(-1)!;
        if (i.keyword === 'ADD') {
          const remote = sources.find((s) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^git@/.test(s));
          if (remote) throw fail(i, 'ADD_REMOTE_UNSUPPORTED', `ADD of a remote source (${remote}) is not supported: download it into the context, or RUN wget/curl`);
        }
        const chown = i.flags.chown === undefined ? null : expandWord(i.flags.chown, lookup, escape);
        const chmodText = i.flags.chmod === undefined ? null : expandWord(i.flags.chmod, lookup, escape);
        if (chmodText !== null && !/^[0-7]{3,4}$/.test(chmodText)) throw fail(i, 'DOCKERFILE_SYNTAX', `--chmod=${chmodText}: give octal permissions, e.g. 755`);
        const destIsDir = rawDest.endsWith('/') || rawDest === '.' || rawDest.endsWith('/.');
        if (sources.length > 1 && !destIsDir) {
          throw fail(i, 'DOCKERFILE_SYNTAX', `${i.keyword} with more than one source needs a destination directory ending in /`);
        }
        steps.push({
          ...base, kind: 'copy', add: i.keyword === 'ADD', sources, dest: absolute(rawDest, workdir), destIsDir, chown, chmod: chmodText === null ? null : parseInt(chmodText, 8),
        });
        break;
      }
    }
  }
  return { steps, unusedArgs: Object.keys(buildArgs).filter((name) => !used.has(name)).sort() };
}

/** `ARG NAME[=default] …`: each name and its default (undefined when none). */
function argDeclarations(i: ParsedInstruction, lookup: Lookup, escape: string): Array<[string, string | undefined]> {
  return expandWords(i.args, lookup, escape).map((word) => {
    const eq = word.indexOf('=');
    const name = eq < 0 ? word : word.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw fail(i, 'DOCKERFILE_SYNTAX', `"${name}" is not a valid ARG name`);
    return [name, eq < 0 ? undefined : word.slice(eq + 1)];
  });
}

/** `K=V K2="v 2"` or the old one-pair form `K v with spaces`. */
function keyValues(i: ParsedInstruction, lookup: Lookup, escape: string): Array<[string, string]> {
  const first = /^(\S+)/.exec(i.args)?.[1] ?? '';
  if (!first.includes('=')) {
    const rest = i.args.slice(first.length).trim();
    if (rest === '') throw fail(i, 'DOCKERFILE_SYNTAX', `${i.keyword} needs KEY=value (or KEY value)`);
    return [[expandWord(first, lookup, escape), expandWord(rest, lookup, escape)]];
  }
  return expandWords(i.args, lookup, escape).map((word) => {
    const eq = word.indexOf('=');
    if (eq <= 0) throw fail(i, 'DOCKERFILE_SYNTAX', `"${word}": expected KEY=value`);
    return [word.slice(0, eq), word.slice(eq + 1)];
  });
}

/** A container path made absolute against the working directory, `.` and `..` resolved (never above /). */
export function absolute(path: string, workdir: string): string {
  const parts: string[] = [];
  for (const part of (path.startsWith('/') ? path : `${workdir}/${path}`).split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

import { invalid } from '../shared/errors.js';

/** The instructions `strata build` runs. */
export const SUPPORTED_INSTRUCTIONS = [
  'FROM', 'COPY', 'ADD', 'RUN', 'ENV', 'ARG', 'WORKDIR', 'USER', 'LABEL', 'EXPOSE', 'CMD', 'ENTRYPOINT', 'VOLUME', 'STOPSIGNAL',
] as const;
export type Keyword = (typeof SUPPORTED_INSTRUCTIONS)[number];

/** Dockerfile instructions Docker knows that Strata does not run (refused, never ignored). */
const KNOWN_UNSUPPORTED = ['ONBUILD', 'HEALTHCHECK', 'SHELL', 'MAINTAINER'];

/** Flags each instruction accepts (`COPY --chown=1000:1000 …`). */
const FLAGS: Partial<Record<Keyword, readonly string[]>> = { COPY: ['chown', 'chmod'], ADD: ['chown', 'chmod'] };

/** One instruction as written: continuations joined, comments gone, flags taken off. */
export interface ParsedInstruction {
  /** 1-based line of its first line. */
  line: number;
  keyword: Keyword;
  flags: Record<string, string>;
  /** The arguments as written (after the flags). */
  args: string;
  /** The JSON (exec) form, when the arguments are a JSON array of strings. */
  json: string[] | null;
  /** `KEYWORD args` as written, one line: the history's created_by. */
  text: string;
}

export interface ParsedDockerfile {
  /** The escape character (`# escape=` directive; `\` by default). */
  escape: string;
  instructions: ParsedInstruction[];
}

const fail = (line: number, code: string, message: string) => invalid(code, `Dockerfile line ${line}: ${message}`, { line });

/**
 * Parses a Dockerfile: the `# escape=` directive, comments, line continuations, one instruction per
 * logical line. Checks what can be checked without running anything: known instructions, their
 * flags and argument counts, FROM first, one stage only. Variables are expanded later (build-plan).
 */
export function parseDockerfile(text: string): ParsedDockerfile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let escape = '\\';
  // Parser directives: `# name=value` lines at the very top.
  for (const raw of lines) {
    const m = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(raw);
    if (!m) break;
    if (m[1]!.toLowerCase() === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`') throw fail(1, 'DOCKERFILE_SYNTAX', `invalid escape character ${m[2]}: use \\ or \``);
      escape = m[2]!;
    }
  }
  const instructions: ParsedInstruction[] = [];
  let pending: { line: number; content: string } | null = null;
  lines.forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return; // comments may sit inside a continuation too
    const continued = raw.trimEnd().endsWith(escape);
    const content = continued ? raw.trimEnd().slice(0, -1) : raw;
    pending = pending ? { line: pending.line, content: pending.content + content } : { line: index + 1, content };
    if (!continued) {
      instructions.push(parseInstruction(pending.line, pending.content));
      pending = null;
    }
  });
  if (pending) instructions.push(parseInstruction((pending as { line: number }).line, (pending as { content: string }).content));
  checkStructure(instructions);
  return { escape, instructions };
}

function parseInstruction(line: number, content: string): ParsedInstruction {
  const m = /^\s*(\S+)\s*([\s\S]*?)\s*$/.exec(content)!;
  const word = m[1]!;
  const keyword = word.toUpperCase();
  if (KNOWN_UNSUPPORTED.includes(keyword)) {
    throw fail(line, 'UNSUPPORTED_INSTRUCTION', `${keyword} is not supported by strata build (supported: ${SUPPORTED_INSTRUCTIONS.join(', ')})`);
  }
  if (!(SUPPORTED_INSTRUCTIONS as readonly string[]).includes(keyword)) {
    throw fail(line, 'UNKNOWN_INSTRUCTION', `unknown instruction "${word}" (supported: ${SUPPORTED_INSTRUCTIONS.join(', ')})`);
  }
  const k = keyword as Keyword;
  let args = m[2]!;
  const flags: Record<string, string> = {};
  for (let f = /^--([A-Za-z-]+)(?:=(\S*))?(?:\s+|$)/.exec(args); f; f = /^--([A-Za-z-]+)(?:=(\S*))?(?:\s+|$)/.exec(args)) {
    const name = f[1]!.toLowerCase();
    if (k === 'COPY' && name === 'from') throw fail(line, 'UNSUPPORTED_FLAG', 'COPY --from (multi-stage builds) is not supported');
    if (!(FLAGS[k] ?? []).includes(name)) throw fail(line, 'UNSUPPORTED_FLAG', `${k} does not take --${name}${FLAGS[k] ? ` (it takes ${FLAGS[k]!.map((x) => `--${x}`).join(', ')})` : ''}`);
    if (f[2] === undefined || f[2] === '') throw fail(line, 'DOCKERFILE_SYNTAX', `--${name} needs a value (--${name}=…)`);
    flags[name] = f[2];
    args = args.slice(f[0].length);
  }
  const parsed: ParsedInstruction = { line, keyword: k, flags, args, json: jsonForm(args), text: `${k} ${[...Object.entries(flags).map(([n, v]) => `--${n}=${v}`), args].join(' ')}`.trim() };
  checkArguments(parsed);
  return parsed;
}

/** `["a", "b"]`: the exec form. Anything else (even a broken JSON attempt) is the shell form, as Docker does. */
function jsonForm(args: string): string[] | null {
  if (!args.startsWith('[')) return null;
  try {
    const value = JSON.parse(args) as unknown;
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : null;
  } catch {
    return null;
  }
}

function checkArguments(i: ParsedInstruction): void {
  const need = (ok: boolean, message: string) => {
    if (!ok) throw fail(i.line, 'DOCKERFILE_SYNTAX', `${i.keyword} ${message}`);
  };
  switch (i.keyword) {
    case 'FROM': {
      const words = i.args.split(/\s+/).filter(Boolean);
      need(words.length === 1 || (words.length === 3 && words[1]!.toUpperCase() === 'AS'), 'takes an image and optionally AS <name>');
      break;
    }
    case 'COPY':
    case 'ADD':
      need(i.json ? i.json.length >= 2 : i.args.split(/\s+/).filter(Boolean).length >= 2, 'needs at least one source and a destination');
      break;
    case 'RUN':
    case 'CMD':
    case 'ENTRYPOINT':
      need(i.json !== null || i.args !== '', 'needs a command');
      need(i.keyword !== 'RUN' || !/^<<-?\S/.test(i.args), 'here-documents are not supported');
      break;
    default:
      need(i.args !== '', 'needs an argument');
  }
}

function checkStructure(instructions: ParsedInstruction[]): void {
  const first = instructions.find((i) => i.keyword !== 'ARG');
  if (!first) throw invalid('DOCKERFILE_EMPTY', 'the Dockerfile has no instructions: it needs at least FROM');
  if (first.keyword !== 'FROM') throw fail(first.line, 'DOCKERFILE_NO_FROM', `the first instruction must be FROM (ARG may come before it), found ${first.keyword}`);
  const second = instructions.filter((i) => i.keyword === 'FROM')[1];
  if (second) throw fail(second.line, 'UNSUPPORTED_INSTRUCTION', 'a second FROM (multi-stage builds) is not supported');
}

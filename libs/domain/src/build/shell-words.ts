/**
 * Dockerfile word processing (moby's shell lexer, the parts Dockerfiles use): quotes are removed,
 * `\` escapes, and `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME:+alternative}` are replaced from
 * `lookup` (unset is empty). Single quotes keep everything literal. Expanded values are never split.
 */
export type Lookup = (name: string) => string | undefined;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** One word: whitespace is kept (ENV K value with spaces, WORKDIR, USER). */
export function expandWord(text: string, lookup: Lookup, escape = '\\'): string {
  return lex(text, lookup, escape, false).join('');
}

/** Words split on unquoted whitespace (ENV K=V K2="a b", COPY a b /dst, EXPOSE 80 443). */
export function expandWords(text: string, lookup: Lookup, escape = '\\'): string[] {
  return lex(text, lookup, escape, true);
}

function lex(text: string, lookup: Lookup, escape: string, split: boolean): string[] {
  const words: string[] = [];
  let word = '';
  let started = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote === "'") {
      if (ch === "'") quote = null;
      else word += ch;
      continue;
    }
    if (ch === escape && i + 1 < text.length) {
      const next = text[i + 1]!;
      // Inside double quotes only `"`, `$` and the escape itself are escaped, as in sh.
      if (quote === '"' && next !== '"' && next !== '$' && next !== escape) {
        word += ch;
      } else {
        word += next;
        i++;
      }
      started = true;
      continue;
    }
    if (ch === '$') {
      const { value, length } = variable(text.slice(i + 1), lookup, escape);
      word += value;
      i += length;
      started = true;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = null;
      else word += ch;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      started = true;
      continue;
    }
    if (split && /\s/.test(ch)) {
      if (started) words.push(word);
      word = '';
      started = false;
      continue;
    }
    word += ch;
    started = true;
  }
  if (started || !split) words.push(word);
  return words;
}

/** `rest` follows a `$`: the value and how many characters of `rest` it used. */
function variable(rest: string, lookup: Lookup, escape: string): { value: string; length: number } {
  if (rest.startsWith('{')) {
    const close = matchingBrace(rest);
    if (close < 0) return { value: '${', length: 1 };
    const body = rest.slice(1, close);
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([\s\S]*))?$/.exec(body);
    if (!m) return { value: `\${${body}}`, length: close + 1 };
    const [, name, op, word] = m as unknown as [string, string, string | undefined, string | undefined];
    const value = lookup(name);
    const set = op?.startsWith(':') ? value !== undefined && value !== '' : value !== undefined;
    if (op === undefined) return { value: value ?? '', length: close + 1 };
    const inner = () => expandWord(word ?? '', lookup, escape);
    if (op.endsWith('-')) return { value: set ? value! : inner(), length: close + 1 };
    return { value: set ? inner() : '', length: close + 1 };
  }
  const name = NAME.exec(rest)?.[0];
  if (!name) return { value: '$', length: 0 };
  return { value: lookup(name) ?? '', length: name.length };
}

function matchingBrace(text: string): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

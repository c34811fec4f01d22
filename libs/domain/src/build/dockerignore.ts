/**
 * `.dockerignore`, as moby's patternmatcher reads it: one pattern per line, `#` comments, `!` for an
 * exception, `*` `?` `[…]` within a path component and `**` across them; a pattern that matches a
 * directory excludes what is under it; the last pattern that matches a path decides.
 */
export interface IgnoreRule {
  negate: boolean;
  pattern: RegExp;
}

export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    const cleaned = cleanPath(line);
    if (cleaned === '') continue;
    rules.push({ negate, pattern: globToRegExp(cleaned) });
  }
  return rules;
}

/** True when `path` (relative to the context, `/`-separated) is excluded. */
export function isIgnored(path: string, rules: readonly IgnoreRule[]): boolean {
  const clean = cleanPath(path);
  const parents = clean.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (parents.some((p) => rule.pattern.test(p))) ignored = !rule.negate;
  }
  return ignored;
}

/** A glob of one or more path components as an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      i++;
      if (glob[i + 1] === '/') {
        i++;
        out += '(?:.*/)?';
      } else out += '.*';
    } else if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else if (ch === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) out += '\\[';
      else {
        const body = glob.slice(i + 1, close).replace(/^[!^]/, '^').replace(/\\/g, '\\\\');
        out += `[${body}]`;
        i = close;
      }
    } else if (ch === '\\' && i + 1 < glob.length) out += escapeRe(glob[++i]!);
    else out += escapeRe(ch);
  }
  return new RegExp(`^${out}$`);
}

/** True when the text has glob characters. */
export const hasGlob = (text: string): boolean => /[*?[]/.test(text);

/** Clean relative form: no leading `/` or `./`, no `.` components, `..` resolved. */
export function cleanPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

const escapeRe = (ch: string) => ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

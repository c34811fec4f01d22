/** One challenge of a `WWW-Authenticate` header: `Bearer realm="…",service="…",scope="…"`. */
export interface AuthChallenge {
  /** Lowercased: `bearer`, `basic`. */
  scheme: string;
  /** Parameter names lowercased, values unquoted. */
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header (RFC 9110 §11.6.1): one or more challenges, each a scheme and
 * comma-separated `name=value` parameters, values a token or a quoted string with `\` escapes.
 * Quoted values may hold commas (`scope="repository:a:pull,push"`). Malformed tails are ignored rather
 * than guessed at: a challenge is only as good as what parsed cleanly.
 */
export function parseAuthChallenges(header: string | null | undefined): AuthChallenge[] {
  if (!header) return [];
  const challenges: AuthChallenge[] = [];
  let i = 0;
  const n = header.length;
  const skipSpaces = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && /[A-Za-z0-9!#$%&'*+.^_`|~-]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  let current: AuthChallenge | null = null;
  while (i < n) {
    skipSpaces();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const token = readToken();
    if (!token) break; // garbage: stop here
    skipSpaces();
    if (header[i] === '=' && current) {
      // name=value of the current challenge (a token68 like "abc==" only appears without a name: ignored)
      i++;
      skipSpaces();
      let value: string;
      if (header[i] === '"') {
        i++;
        value = '';
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        if (i >= n) break; // unterminated quote
        i++;
      } else {
        // Strictly a token; registries write unquoted URLs too, so: up to the next comma or space.
        const start = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ' && header[i] !== '\t') i++;
        value = header.slice(start, i);
      }
      current.params[token.toLowerCase()] = value;
      continue;
    }
    // A new challenge: its scheme.
    current = { scheme: token.toLowerCase(), params: {} };
    challenges.push(current);
  }
  return challenges;
}

/** The first challenge of the given scheme. */
export function findChallenge(header: string | null | undefined, scheme: 'bearer' | 'basic'): AuthChallenge | undefined {
  return parseAuthChallenges(header).find((c) => c.scheme === scheme);
}

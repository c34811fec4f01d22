/**
 * How stream ids and command ids become NATS subject tokens. A token may not contain '.', '*', '>' or
 * whitespace; those (and '%', the escape itself, and control characters) are percent-encoded as their
 * UTF-8 bytes, so the encoding is injective and the token readable: `image-3f5a` stays `image.3f5a`.
 */
export function encodeToken(value: string): string {
  let out = '';
  for (const c of value) {
    out += isUnsafe(c) ? Array.from(Buffer.from(c, 'utf8'), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('') : c;
  }
  return out;
}

function isUnsafe(c: string): boolean {
  const code = c.codePointAt(0) ?? 0;
  return code < 0x20 || code === 0x7f || c === '.' || c === '*' || c === '>' || c === '%' || /\s/u.test(c);
}

export function decodeToken(token: string): string {
  return decodeURIComponent(token);
}

/**
 * `<category>.<id>` for a stream id `<category>-<id>` (`container-abc` → `container.abc`), as DESIGN.md
 * names subjects. A stream id without such a split (no '-', or an empty side) goes under the category
 * '-' whole: a real category never is '-' (it is what precedes the first '-'), so no two stream ids
 * share a subject.
 */
export function streamTokens(streamId: string): string {
  const dash = streamId.indexOf('-');
  if (dash > 0 && dash < streamId.length - 1) {
    return `${encodeToken(streamId.slice(0, dash))}.${encodeToken(streamId.slice(dash + 1))}`;
  }
  return `-.${encodeToken(streamId)}`;
}

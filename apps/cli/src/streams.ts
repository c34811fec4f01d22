/** Decoding of the node's streaming answers: NDJSON (replay) and Server-Sent Events (events --follow). */

/**
 * Lines of a byte stream, without their terminator (\n or \r\n). A last line without a terminator is
 * still yielded: a truncated stream shows as a line that fails to parse, not as silence.
 */
export async function* readLines(body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let buffered = '';
  for await (const chunk of iterate(body)) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      yield line.endsWith('\r') ? line.slice(0, -1) : line;
    }
  }
  buffered += decoder.decode();
  if (buffered !== '') yield buffered.endsWith('\r') ? buffered.slice(0, -1) : buffered;
}

/** A web ReadableStream read through its reader: works whatever the lib typings say about iteration. */
export async function* iterate(body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  if (!('getReader' in body)) {
    yield* body;
    return;
  }
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    // Ends the HTTP response when the consumer stops early (--limit, Ctrl-C): no dangling socket.
    await reader.cancel().catch(() => undefined);
  }
}

/** NDJSON: one JSON value per non-empty line. */
export async function* readNdjson(lines: AsyncIterable<string>): AsyncGenerator<unknown> {
  for await (const line of lines) {
    if (line.trim() === '') continue;
    yield JSON.parse(line) as unknown;
  }
}

export interface SseMessage {
  /** `message` unless the server named it (`event: resync`). */
  event: string;
  data: string;
  /** The last `id:` seen, carried over as the spec says (what Last-Event-ID must be on reconnect). */
  id: string | null;
}

/**
 * Server-Sent Events, per the WHATWG parsing rules that matter here: `field: value` lines, one optional
 * space after the colon, several `data:` lines joined by \n, a blank line dispatching the message,
 * `:` comments (heartbeats) ignored, a message without data not dispatched.
 */
export async function* parseSse(lines: AsyncIterable<string>): AsyncGenerator<SseMessage> {
  let event = '';
  let data: string[] = [];
  let lastId: string | null = null;
  for await (const line of lines) {
    if (line === '') {
      if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), id: lastId };
      event = '';
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id' && !value.includes('\0')) lastId = value;
    // `retry:` is ignored: reconnection is paced by the client's own bounded backoff.
  }
  // A message not closed by a blank line is dropped, as the spec says: it may be cut in the middle.
}

/** One Server-Sent Events message (`event:`, `id:`, `data:` joined by newlines), or a comment line. */
export type SseItem = { kind: 'message'; event: string; id: string | null; data: string } | { kind: 'comment'; text: string };

/**
 * Parses an SSE body (text/event-stream, as the events controller writes it) into messages and
 * comments. `idleMs` bounds the silence between chunks: the source sends a heartbeat every 15 s, so a
 * longer silence is a dead connection, and the reader throws instead of waiting forever.
 */
export async function* readSse(body: ReadableStream<Uint8Array>, idleMs: number): AsyncGenerator<SseItem> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let id: string | null = null;
  let data: string[] = [];
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no byte from the source for ${idleMs} ms`)), idleMs);
      });
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await Promise.race([reader.read(), idle]);
      } finally {
        clearTimeout(timer);
      }
      if (chunk.done) return;
      buffer += decoder.decode(chunk.value, { stream: true });
      for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line === '') {
          if (data.length > 0) yield { kind: 'message', event, id, data: data.join('\n') };
          event = 'message';
          id = null;
          data = [];
        } else if (line.startsWith(':')) {
          yield { kind: 'comment', text: line.slice(1).trim() };
        } else {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') data.push(value);
          else if (field === 'event') event = value;
          else if (field === 'id') id = value;
        }
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

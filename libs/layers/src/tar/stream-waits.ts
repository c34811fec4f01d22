/** Anything with on/off: node streams and streamx (tar-stream) streams alike. */
interface Emitter {
  on(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

/** Resolves when a writable wants more, or is gone (a destroyed stream never drains). */
export function drainedOrClosed(stream: Emitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

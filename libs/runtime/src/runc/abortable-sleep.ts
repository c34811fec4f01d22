import { setTimeout as sleep } from 'node:timers/promises';

/** Sleeps ms; false (at once) when the signal aborts instead. */
export async function abortableSleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** Median / min / max of repeated measurements, and the ratio of two medians. */
export interface Figure {
  unit: string;
  runs: number[];
  median: number;
  min: number;
  max: number;
}

export function figure(unit: string, runs: number[]): Figure {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { unit, runs, median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** Runs `once` `runs` times (after `warmup` unmeasured runs); `once` returns a rate (events/s). */
export async function repeat(runs: number, once: () => Promise<number>, warmup = 0): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await once();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    out.push(await once());
  }
  return out;
}

export const rate = (events: number, ms: number) => (events * 1000) / ms;
export const now = () => performance.now();

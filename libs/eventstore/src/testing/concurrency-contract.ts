import { describe, expect, it } from 'vitest';
import { ConcurrencyError, type AppendResult, type ExpectedVersion } from '../port.js';
import type { ContractContext } from './contract-context.js';
import { anEvent, command, isStrictlyIncreasing, readWholeLog } from './contract-fixtures.js';

const fulfilled = <T>(results: PromiseSettledResult<T>[]) =>
  results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
const rejected = <T>(results: PromiseSettledResult<T>[]) =>
  results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));

/** Many appends in flight at once, as many concurrent commands make them. */
export function concurrencyContract(ctx: ContractContext): void {
  describe('concurrent appends', () => {
    const races: Array<[string, number, ExpectedVersion]> = [
      ['a new stream, all expecting no stream', 0, 'no-stream'],
      ['a stream at version 3, all expecting 3', 3, 3],
    ];
    it.each(races)('50 at once to %s: exactly one wins, 49 get ConcurrencyError', async (_what, existing, expected) => {
      if (existing > 0) await ctx.store.append('s-hot', 'no-stream', Array.from({ length: existing }, () => anEvent()), command());
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => ctx.store.append('s-hot', expected, [anEvent(), anEvent()], command(`racer-${i}`))),
      );
      const winners = fulfilled(results);
      const losers = rejected(results);
      expect(winners).toHaveLength(1);
      expect(losers).toHaveLength(49);
      for (const loser of losers) {
        expect(loser).toBeInstanceOf(ConcurrencyError);
        expect(loser).toMatchObject({ streamId: 's-hot', expected, actual: existing + 2 });
      }
      const stream = await ctx.store.readStream('s-hot');
      expect(stream.map((e) => e.version)).toEqual(Array.from({ length: existing + 2 }, (_, i) => i + 1));
      expect(stream.slice(existing).map((e) => e.commandId)).toEqual([winners[0].events[0].commandId, winners[0].events[0].commandId]);
    });

    it('64 at once on distinct streams all succeed, each with its own position', async () => {
      const results: AppendResult[] = await Promise.all(
        Array.from({ length: 64 }, (_, i) => ctx.store.append(`s-${i}`, 'no-stream', [anEvent()], command())),
      );
      expect(results.every((r) => r.version === 1 && !r.duplicate)).toBe(true);
      const positions = results.map((r) => r.position);
      expect(new Set(positions).size).toBe(64);
      const log = await readWholeLog(ctx.store);
      expect(log).toHaveLength(64);
      expect(isStrictlyIncreasing(log.map((e) => e.position))).toBe(true);
      expect(log.map((e) => e.position).sort((a, b) => a - b)).toEqual([...positions].sort((a, b) => a - b));
      expect(await ctx.store.head()).toBe(Math.max(...positions));
    });

    it('20 streams with 5 racers each: exactly one winner per stream', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 100 }, (_, i) => ctx.store.append(`s-${i % 20}`, 0, [anEvent()], command())),
      );
      expect(fulfilled(results)).toHaveLength(20);
      expect(rejected(results).every((e) => e instanceof ConcurrencyError)).toBe(true);
      expect(new Set(fulfilled(results).map((r) => r.streamId)).size).toBe(20);
      expect(await readWholeLog(ctx.store)).toHaveLength(20);
    });
  });
}

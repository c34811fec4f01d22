import type { EventEnvelope } from '@strata/domain';
import { describe, expect, it } from 'vitest';
import type { ContractContext } from './contract-context.js';
import { anEvent, command, isStrictlyIncreasing, readWholeLog } from './contract-fixtures.js';
import { runWriterUntilKilled } from './crash-child-runner.js';

/** What survives a restart and a crash. */
export function durabilityContract(ctx: ContractContext): void {
  describe('durability', () => {
    it('a reopened store has every event, goes on numbering, and still knows past commands', async () => {
      const first = await ctx.store.append('s-1', 'no-stream', [anEvent(), anEvent()], command('cmd-1'));
      await ctx.store.append('s-2', 'no-stream', [anEvent()], command('cmd-2'));
      const before = await readWholeLog(ctx.store);
      await ctx.store.close();
      await ctx.store.close(); // closing twice is harmless

      const reopened = await ctx.t.reopen();
      expect(await readWholeLog(reopened)).toStrictEqual(before);
      expect(await reopened.head()).toBe(before[before.length - 1].position);
      expect(await reopened.append('s-1', 'no-stream', [anEvent()], command('cmd-1'))).toStrictEqual({ ...first, duplicate: true });
      await expect(reopened.append('s-1', 'no-stream', [anEvent()], command())).rejects.toMatchObject({ name: 'ConcurrencyError', actual: 2 });
      const next = await reopened.append('s-1', 2, [anEvent()], command());
      expect(next.version).toBe(3);
      expect(next.position).toBeGreaterThan(before[before.length - 1].position);
    });

    it('appends accepted before close() are written, not dropped', async () => {
      const pending = Array.from({ length: 10 }, (_, i) => ctx.store.append(`s-${i}`, 'no-stream', [anEvent()], command()));
      await ctx.store.close();
      const results = await Promise.all(pending);
      const reopened = await ctx.t.reopen();
      expect((await readWholeLog(reopened)).map((e) => e.position)).toEqual(results.map((r) => r.position));
    });

    it('a writer killed with SIGKILL mid-load loses no acknowledged append and leaves no torn one', async () => {
      await ctx.store.close(); // the child is the only writer
      const { acks } = await runWriterUntilKilled(ctx.t.childConfig, { killAfterAcks: 400, workers: 32, timeoutMs: 60_000 });
      expect(acks.length).toBeGreaterThanOrEqual(400);

      const store = await ctx.t.reopen();
      const log = await readWholeLog(store);
      expect(isStrictlyIncreasing(log.map((e) => e.position))).toBe(true);

      const byCommand = new Map<string, EventEnvelope[]>();
      const byStream = new Map<string, EventEnvelope[]>();
      for (const event of log) {
        byCommand.set(event.commandId, [...(byCommand.get(event.commandId) ?? []), event]);
        byStream.set(event.streamId, [...(byStream.get(event.streamId) ?? []), event]);
      }
      // Every acknowledged append is there, whole, at the position it was acknowledged with.
      for (const ack of acks) {
        const events = byCommand.get(ack.commandId) ?? [];
        expect(events.map((e) => e.position), `ack ${ack.commandId}`).toEqual(ack.positions);
        expect(events[events.length - 1].version, `ack ${ack.commandId}`).toBe(ack.version);
        expect(events.every((e) => e.streamId === ack.streamId)).toBe(true);
      }
      // Nothing torn, acknowledged or not: each command's events are all there, in order.
      for (const [commandId, events] of byCommand) {
        const of = (events[0].data as { of: number }).of;
        expect(events.map((e) => (e.data as { i: number }).i), `command ${commandId}`).toEqual(Array.from({ length: of }, (_, i) => i));
      }
      // No gaps: every stream is numbered 1..n.
      for (const [streamId, events] of byStream) {
        expect(events.map((e) => e.version), `stream ${streamId}`).toEqual(events.map((_, i) => i + 1));
      }
      // The log is usable after the crash: retries are answered from it, and appends go on.
      const last = acks[acks.length - 1];
      const retry = await store.append(last.streamId, 'any', [anEvent()], command(last.commandId));
      expect(retry).toMatchObject({ duplicate: true, version: last.version, position: last.positions[last.positions.length - 1] });
      const shared = byStream.get('crash-shared') ?? [];
      const next = await store.append('crash-shared', shared.length, [anEvent()], command());
      expect(next.version).toBe(shared.length + 1);
    }, 120_000);
  });
}

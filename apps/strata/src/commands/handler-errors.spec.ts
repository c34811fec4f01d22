import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { CqrsModule, EventBus, EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../metrics/metrics.js';
import { EventAppended } from './execute-command.js';
import { HandlerErrors } from './handler-errors.js';

const seen: number[] = [];

@EventsHandler(EventAppended)
class FailsOnOddPositions implements IEventHandler<EventAppended> {
  handle({ event }: EventAppended) {
    if (event.position % 2 === 1) throw new Error(`boom at ${event.position}`);
    seen.push(event.position);
  }
}

const appended = (position: number) =>
  new EventAppended({
    eventId: `e${position}`, type: 'RepositoryCreated', schemaVersion: 2, streamId: `repository-r${position}`, version: 1,
    position, occurredAt: '2026-01-01T00:00:00.000Z', actor: 'a', commandId: `c${position}`, correlationId: 'x',
    causationId: null, nodeId: 'n', data: {},
  });

describe('local event handlers', () => {
  it('a throwing handler neither crashes the process nor stops later events, and every failure is counted', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CqrsModule.forRoot()],
      providers: [FailsOnOddPositions, HandlerErrors, Metrics],
    }).compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    const bus = moduleRef.get(EventBus);
    bus.publishAll([1, 2, 3, 4].map(appended));
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([2, 4]);
    const metrics = moduleRef.get(Metrics);
    expect((await metrics.handlerErrors.get()).values[0].value).toBe(2);
    await moduleRef.close();
  });
});

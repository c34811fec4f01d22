import { hash } from 'node:crypto';
import type { CommandMeta, DomainEvent, ProposedEvent } from '@strata/domain';

/** The RFC 4122 variant digit for the two bits taken from the hash: 8, 9, a or b. */
const VARIANT = '89ab';

/**
 * Event ids derive from the command id and the event's index, so a command retried after a
 * concurrency conflict proposes the same ids, and nothing random enters what the log stores.
 */
export function eventIdFor(commandId: string, index: number): string {
  // crypto.hash: the one-shot sha256, without a Hash object (the same digest as createHash's).
  const h = hash('sha256', `${commandId}/${index}`, 'hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${VARIANT[parseInt(h[16], 16) & 3]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function proposeEvents(events: DomainEvent[], meta: CommandMeta): ProposedEvent[] {
  return events.map((e, i) => ({
    eventId: eventIdFor(meta.commandId, i),
    type: e.type,
    schemaVersion: e.schemaVersion,
    occurredAt: meta.occurredAt,
    actor: meta.actor,
    correlationId: meta.correlationId,
    causationId: meta.causationId,
    nodeId: meta.nodeId,
    data: e.data,
  }));
}

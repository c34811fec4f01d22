import type { ContainerEvent, EventEnvelope } from '@strata/domain';
import type { Projector } from './projector.js';

type ContainerEnvelope = Omit<EventEnvelope, 'type' | 'schemaVersion' | 'data'> & ContainerEvent;

/** Live containers and the history of their writable layers (tables `containers`, `container_file_changes`). */
export const containersProjector: Projector = {
  name: 'containers',
  version: 1,
  tables: ['containers', 'container_file_changes'],
  apply(envelope, writer) {
    const event = envelope as unknown as ContainerEnvelope;
    const at = event.occurredAt;
    const p = event.position;
    switch (event.type) {
      case 'ContainerCreated':
        writer.createContainer(event.data, at, event.actor, p);
        return;
      case 'ContainerStarted':
        writer.updateContainer(event.data.id, { status: 'running', startedAt: at, finishedAt: null, restartCount: event.data.restartCount }, p);
        return;
      case 'ContainerExited':
        writer.updateContainer(event.data.id, { status: 'exited', exitCode: event.data.exitCode, exitReason: event.data.reason, finishedAt: at }, p);
        return;
      case 'ContainerPaused':
        writer.updateContainer(event.data.id, { status: 'paused' }, p);
        return;
      case 'ContainerUnpaused':
        writer.updateContainer(event.data.id, { status: 'running' }, p);
        return;
      case 'ContainerRenamed':
        writer.updateContainer(event.data.id, { name: event.data.to }, p);
        return;
      case 'ContainerFilesChanged':
        writer.recordFileChanges(event.data.id, event.data.source, event.data.changes, at, event.actor, p);
        return;
      case 'ContainerRemoved':
        writer.removeContainer(event.data.id);
        return;
    }
  },
};

import type { BuildView, EventView } from '@strata/api';
import type { BuildEvent, EventEnvelope } from '@strata/domain';

/** A build as its stream tells it (null for a stream with no BuildStarted). */
export function buildViewOf(events: readonly EventEnvelope[]): BuildView | null {
  let view: BuildView | null = null;
  for (const envelope of events) {
    const event = envelope as unknown as BuildEvent & EventEnvelope;
    switch (event.type) {
      case 'BuildStarted': {
        const d = event.data;
        view = {
          buildId: d.buildId, status: 'running', actor: envelope.actor, startedAt: envelope.occurredAt, finishedAt: null, contextDigest: d.contextDigest,
          fileDigest: d.fileDigest, dockerfile: d.dockerfile, args: d.args, tag: d.tag, instructions: d.instructions, steps: [], result: null, failure: null,
        };
        break;
      }
      case 'BuildStepCompleted':
        view?.steps.push({ n: event.data.n, instruction: event.data.instruction, manifestDigest: event.data.manifestDigest, imageId: event.data.imageId, cached: event.data.cached });
        break;
      case 'BuildCompleted':
        if (view) Object.assign(view, { status: 'completed', finishedAt: envelope.occurredAt, result: { manifestDigest: event.data.manifestDigest, imageId: event.data.imageId } });
        break;
      case 'BuildFailed':
        if (view) {
          const { step, error, exitCode, output } = event.data;
          Object.assign(view, { status: 'failed', finishedAt: envelope.occurredAt, failure: { step, code: error.code, message: error.message, exitCode, output } });
        }
        break;
    }
  }
  return view;
}

export const eventViewOf = (e: EventEnvelope): EventView => ({ ...e });

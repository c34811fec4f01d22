import type { Decider } from '../shared/decider.js';
import { assertDigest } from '../shared/digest.js';
import { conflict, invalid, notFound } from '../shared/errors.js';
import type { BuildCommand } from './commands.js';
import type { BuildEvent } from './events.js';
import { initialBuildState, type BuildState } from './state.js';

export const BUILD_CATEGORY = 'build';

const BUILD_ID = /^[a-f0-9]{12,64}$/;
export function assertBuildId(id: string): string {
  if (!BUILD_ID.test(id)) throw invalid('INVALID_BUILD_ID', `a build id is 12-64 lowercase hex characters, got "${id}"`, { buildId: id });
  return id;
}
export const buildStreamId = (buildId: string) => `${BUILD_CATEGORY}-${assertBuildId(buildId)}`;

function running(state: BuildState, command: BuildCommand): void {
  if (state.status === 'none') throw notFound('BUILD_NOT_FOUND', `no such build: ${command.buildId}`, { buildId: command.buildId });
  if (state.status !== 'running') {
    throw conflict('BUILD_FINISHED', `build ${command.buildId} has ${state.status}: nothing more can be recorded`, { buildId: command.buildId, status: state.status });
  }
}

/**
 * A build as a saga's record: started with its inputs, each step completed in order (n = 1…total),
 * then completed with the last step's image, or failed at a step. Pure: the node runs the steps.
 */
export function decideBuild(command: BuildCommand, state: BuildState): BuildEvent[] {
  switch (command.type) {
    case 'StartBuild': {
      const { type: _type, ...data } = command;
      assertBuildId(data.buildId);
      assertDigest(data.contextDigest, 'contextDigest');
      assertDigest(data.fileDigest, 'fileDigest');
      if (state.status !== 'none') throw conflict('BUILD_EXISTS', `build ${data.buildId} exists already`, { buildId: data.buildId });
      if (data.instructions.length === 0) throw invalid('DOCKERFILE_EMPTY', 'a build needs at least one instruction');
      return [{ type: 'BuildStarted', schemaVersion: 1, data }];
    }
    case 'CompleteBuildStep': {
      const { type: _type, ...data } = command;
      running(state, command);
      assertDigest(data.manifestDigest, 'manifestDigest');
      assertDigest(data.imageId, 'imageId');
      if (data.n !== state.completed + 1 || data.n > state.total) {
        throw conflict('BUILD_STEP_OUT_OF_ORDER', `build ${data.buildId} expects step ${state.completed + 1} of ${state.total}, got ${data.n}`, {
          buildId: data.buildId, expected: state.completed + 1, got: data.n,
        });
      }
      return [{ type: 'BuildStepCompleted', schemaVersion: 1, data }];
    }
    case 'CompleteBuild': {
      const { type: _type, ...data } = command;
      running(state, command);
      if (state.completed !== state.total) {
        throw conflict('BUILD_INCOMPLETE', `build ${data.buildId} has completed ${state.completed} of ${state.total} steps`, { buildId: data.buildId });
      }
      if (data.manifestDigest !== state.lastManifestDigest) {
        throw invalid('BUILD_RESULT_MISMATCH', `build ${data.buildId} ended with image ${state.lastManifestDigest}, not ${data.manifestDigest}`, { buildId: data.buildId });
      }
      return [{ type: 'BuildCompleted', schemaVersion: 1, data }];
    }
    case 'FailBuild': {
      const { type: _type, ...data } = command;
      running(state, command);
      return [{ type: 'BuildFailed', schemaVersion: 1, data: { ...data, output: data.output === null ? null : data.output.slice(-4096) } }];
    }
  }
}

export function evolveBuild(state: BuildState, event: BuildEvent): BuildState {
  switch (event.type) {
    case 'BuildStarted':
      return { ...state, status: 'running', buildId: event.data.buildId, total: event.data.instructions.length, completed: 0 };
    case 'BuildStepCompleted':
      return { ...state, completed: event.data.n, lastManifestDigest: event.data.manifestDigest };
    case 'BuildCompleted':
      return { ...state, status: 'completed' };
    case 'BuildFailed':
      return { ...state, status: 'failed' };
    default:
      return state;
  }
}

export const buildDecider: Decider<BuildState, BuildCommand, BuildEvent> = {
  category: BUILD_CATEGORY,
  initialState: initialBuildState,
  decide: decideBuild,
  evolve: evolveBuild,
};

import { describe, expect, it } from 'vitest';
import { fold } from '../shared/decider.js';
import { codeOf } from '../testing/error-code.js';
import type { BuildCommand } from './commands.js';
import { buildDecider, buildStreamId } from './decider.js';
import type { BuildEvent } from './events.js';

const D = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const ID = 'abcdef0123456789';
const start: BuildCommand = {
  type: 'StartBuild', buildId: ID, contextDigest: D(1), fileDigest: D(2), dockerfile: 'Dockerfile', args: {}, tag: 'demo/app:1', noCache: false,
  instructions: ['FROM busybox', 'RUN true'],
};
const step = (n: number, digest = D(10 + n)): BuildCommand => ({
  type: 'CompleteBuildStep', buildId: ID, n, instruction: 'x', manifestDigest: digest, imageId: D(20 + n), cached: false, cacheKey: null, containerId: null,
});

function run(...commands: BuildCommand[]): BuildEvent[] {
  const events: BuildEvent[] = [];
  for (const c of commands) events.push(...buildDecider.decide(c, fold(buildDecider, events)));
  return events;
}

describe('build aggregate', () => {
  it('records a build: started, each step in order, completed with the last step image', () => {
    const events = run(start, step(1), step(2), { type: 'CompleteBuild', buildId: ID, manifestDigest: D(12), imageId: D(22), tag: 'demo/app:1' });
    expect(events.map((e) => e.type)).toEqual(['BuildStarted', 'BuildStepCompleted', 'BuildStepCompleted', 'BuildCompleted']);
    expect(fold(buildDecider, events)).toMatchObject({ status: 'completed', completed: 2, total: 2 });
    expect(buildStreamId(ID)).toBe(`build-${ID}`);
  });

  it('refuses steps out of order, beyond the total, and a completion before the last step or with another image', () => {
    expect(codeOf(() => run(start, step(2)))).toBe('BUILD_STEP_OUT_OF_ORDER');
    expect(codeOf(() => run(start, step(1), step(1)))).toBe('BUILD_STEP_OUT_OF_ORDER');
    expect(codeOf(() => run(start, step(1), step(2), step(3)))).toBe('BUILD_STEP_OUT_OF_ORDER');
    expect(codeOf(() => run(start, step(1), { type: 'CompleteBuild', buildId: ID, manifestDigest: D(11), imageId: D(21), tag: null }))).toBe('BUILD_INCOMPLETE');
    expect(codeOf(() => run(start, step(1), step(2), { type: 'CompleteBuild', buildId: ID, manifestDigest: D(99), imageId: D(21), tag: null }))).toBe('BUILD_RESULT_MISMATCH');
  });

  it('fails once, keeping the tail of the output, and records nothing after that', () => {
    const fail: BuildCommand = { type: 'FailBuild', buildId: ID, step: 2, error: { code: 'RUN_FAILED', message: 'exit 3' }, exitCode: 3, output: 'x'.repeat(5000) };
    const events = run(start, step(1), fail);
    expect(events.at(-1)).toMatchObject({ type: 'BuildFailed', data: { step: 2, exitCode: 3 } });
    expect((events.at(-1)!.data as { output: string }).output).toHaveLength(4096);
    expect(codeOf(() => run(start, step(1), fail, step(2)))).toBe('BUILD_FINISHED');
    expect(codeOf(() => run(start, start))).toBe('BUILD_EXISTS');
    expect(codeOf(() => run(step(1)))).toBe('BUILD_NOT_FOUND');
    expect(codeOf(() => run({ ...start, buildId: 'NOT-HEX' } as BuildCommand))).toBe('INVALID_BUILD_ID');
  });
});

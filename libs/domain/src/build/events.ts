/** Current schema versions of the build events. */
export const BUILD_SCHEMA = { BuildStarted: 1, BuildStepCompleted: 1, BuildCompleted: 1, BuildFailed: 1 } as const;

export interface BuildStartedData {
  buildId: string;
  /** sha256 of the context tar as received. */
  contextDigest: string;
  /** sha256 of the Dockerfile's bytes. */
  fileDigest: string;
  /** The Dockerfile's path in the context. */
  dockerfile: string;
  /** --build-arg values (never secrets: the log is forever). */
  args: Record<string, string>;
  /** "repo:tag" the result gets, or null. */
  tag: string | null;
  noCache: boolean;
  /** Every instruction, in order: step n is instructions[n-1]. */
  instructions: string[];
}

export interface BuildStepCompletedData {
  buildId: string;
  n: number;
  instruction: string;
  /** The image after this step (for FROM: the base image). */
  manifestDigest: string;
  imageId: string;
  /** Reused from an earlier build's step with the same cache key. */
  cached: boolean;
  /** sha256 of what the step depends on (parent image, instruction, copied files' digests…); null for FROM. */
  cacheKey: string | null;
  /** The build's own container for the step (removed after its commit); null for config-only and cached steps. */
  containerId: string | null;
}

export interface BuildCompletedData {
  buildId: string;
  manifestDigest: string;
  imageId: string;
  tag: string | null;
}

export interface BuildFailedData {
  buildId: string;
  /** The step that failed (0: before the first step). */
  step: number;
  error: { code: string; message: string };
  /** A failing RUN's exit code. */
  exitCode: number | null;
  /** The last lines a failing RUN wrote (at most 4 KiB). */
  output: string | null;
}

export type BuildEvent =
  | { type: 'BuildStarted'; schemaVersion: 1; data: BuildStartedData }
  | { type: 'BuildStepCompleted'; schemaVersion: 1; data: BuildStepCompletedData }
  | { type: 'BuildCompleted'; schemaVersion: 1; data: BuildCompletedData }
  | { type: 'BuildFailed'; schemaVersion: 1; data: BuildFailedData };

export type BuildEventType = BuildEvent['type'];
export const BUILD_EVENT_TYPES = Object.keys(BUILD_SCHEMA) as BuildEventType[];

import type { BuildCompletedData, BuildFailedData, BuildStartedData, BuildStepCompletedData } from './events.js';

export type BuildCommand =
  | ({ type: 'StartBuild' } & BuildStartedData)
  | ({ type: 'CompleteBuildStep' } & BuildStepCompletedData)
  | ({ type: 'CompleteBuild' } & BuildCompletedData)
  | ({ type: 'FailBuild' } & BuildFailedData);

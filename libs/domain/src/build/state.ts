export type BuildStatus = 'none' | 'running' | 'completed' | 'failed';

export interface BuildState {
  status: BuildStatus;
  buildId: string | null;
  /** How many steps the Dockerfile has. */
  total: number;
  /** Steps completed so far (they complete in order). */
  completed: number;
  /** The image of the last completed step. */
  lastManifestDigest: string | null;
}

export const initialBuildState = (): BuildState => ({ status: 'none', buildId: null, total: 0, completed: 0, lastManifestDigest: null });

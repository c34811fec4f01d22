import type { Visibility } from './names.js';

export type RepositoryCommand =
  | { type: 'CreateRepository'; name: string; visibility: Visibility }
  /** Sets or moves a tag. A missing repository is created private, as a first push would. */
  | { type: 'TagImage'; name: string; tag: string; digest: string }
  | { type: 'UntagImage'; name: string; tag: string }
  | { type: 'SetRepositoryVisibility'; name: string; visibility: Visibility }
  /** Refused while tags remain unless `force`, which removes them with the repository. */
  | { type: 'DeleteRepository'; name: string; force?: boolean };

export type RepositoryCommandType = RepositoryCommand['type'];

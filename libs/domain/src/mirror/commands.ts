export type MirrorCommand =
  /** Follow `repository` of the node at `source` into `localRepository`. Its credentials are kept by the node, outside the log. */
  | { type: 'AddMirror'; id: string; source: string; repository: string; localRepository: string }
  | { type: 'RemoveMirror'; id: string };
export type MirrorCommandType = MirrorCommand['type'];

/**
 * Mirror events: which repository of which node this node follows, and who said so (the envelope's
 * actor). Never credentials: those stay in `<dataDir>/mirror-credentials.json` (0600), outside the log.
 */
export const MIRROR_SCHEMA = {
  MirrorAdded: 1,
  MirrorRemoved: 1,
} as const;

export interface MirrorAddedData {
  id: string;
  /** The source node's base URL, `http(s)://host[:port]` (no path, no user info). */
  source: string;
  /** The repository on the source. */
  repository: string;
  /** Where its tags land here. */
  localRepository: string;
}

export type MirrorEvent =
  | { type: 'MirrorAdded'; schemaVersion: 1; data: MirrorAddedData }
  | { type: 'MirrorRemoved'; schemaVersion: 1; data: { id: string } };

export type MirrorEventType = MirrorEvent['type'];
export const MIRROR_EVENT_TYPES = Object.keys(MIRROR_SCHEMA) as MirrorEventType[];

import type { TagMoveView } from '@strata/api';
import type { ContainerCreatedData, EventEnvelope, FileChange, ImageCreatedData } from '@strata/domain';

/** One row of tag_history, as a projector hands it to the writer: the same shape the API shows. */
export type TagMoveRow = TagMoveView;

/**
 * What a projector may do to the read models. Deliberately dumb (no reads, no clock): every value comes
 * from the event, so a rebuild writes the very same rows. Implemented over prepared statements.
 */
export interface ReadModelWriter {
  /** Creates the repository with no tags (again, if it had been deleted). */
  createRepository(row: { name: string; visibility: string; at: string; position: number }): void;
  setRepositoryVisibility(name: string, visibility: string, at: string, position: number): void;
  /** Recounts the repository's tags and marks it changed by this event. */
  touchRepository(name: string, at: string, position: number): void;
  /** Removes the repository and its current tags. */
  deleteRepository(name: string): void;
  setTag(row: { repository: string; tag: string; digest: string; at: string; by: string; position: number }): void;
  removeTag(repository: string, tag: string): void;
  recordTagMove(row: TagMoveRow): void;
  /** Records an image and its layers (again, if it had been deleted). */
  createImage(image: ImageCreatedData, at: string, by: string, position: number): void;
  deleteImage(manifestDigest: string): void;
  createContainer(container: ContainerCreatedData, at: string, by: string, position: number): void;
  /** Sets the given columns of a container and marks it changed by this event. */
  updateContainer(id: string, changes: ContainerChanges, position: number): void;
  removeContainer(id: string): void;
  recordFileChanges(id: string, source: string, changes: FileChange[], at: string, by: string, position: number): void;
  recordEvent(event: EventEnvelope): void;
}

export interface ContainerChanges {
  status?: string;
  name?: string;
  exitCode?: number | null;
  exitReason?: string | null;
  restartCount?: number;
  startedAt?: string;
  finishedAt?: string | null;
}

/**
 * A projector: a pure function of one event, writing through a ReadModelWriter. Events it does not
 * know are ignored (the engine still advances its checkpoint past them).
 */
export interface Projector {
  /** Its checkpoint's name; shown in status(). */
  readonly name: string;
  /** Bump when the projector's output changes: its tables are then emptied and rebuilt from 0. */
  readonly version: number;
  /** The tables it alone writes (emptied on a version change). */
  readonly tables: readonly string[];
  apply(event: EventEnvelope, writer: ReadModelWriter): void;
}

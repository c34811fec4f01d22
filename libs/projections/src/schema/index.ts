import { AuditEventRecord } from './audit-event.entity.js';
import { ContainerFileChangeRecord } from './container-file-change.entity.js';
import { ContainerRecord } from './container.entity.js';
import { ImageLayerRecord } from './image-layer.entity.js';
import { ImageRecord } from './image.entity.js';
import { ProjectionCheckpointRecord } from './projection-checkpoint.entity.js';
import { RepositoryRecord } from './repository.entity.js';
import { TagMoveRecord } from './tag-move.entity.js';
import { TagRecord } from './tag.entity.js';

export { AuditEventRecord, ContainerFileChangeRecord, ContainerRecord, ImageLayerRecord, ImageRecord, ProjectionCheckpointRecord, RepositoryRecord, TagMoveRecord, TagRecord };

/** Every entity of read.db. */
export const READ_MODEL_ENTITIES = [
  RepositoryRecord,
  TagRecord,
  TagMoveRecord,
  ImageRecord,
  ImageLayerRecord,
  ContainerRecord,
  ContainerFileChangeRecord,
  AuditEventRecord,
  ProjectionCheckpointRecord,
];

/** The tables the checksum covers: every read model, not the checkpoints (they say how far, not what). */
export const CHECKSUMMED_ENTITIES = [RepositoryRecord, TagRecord, TagMoveRecord, ImageRecord, ImageLayerRecord, ContainerRecord, ContainerFileChangeRecord, AuditEventRecord];

import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * How far each projector has applied the log. Written in the same transaction as the rows, so a crash
 * never leaves rows without their checkpoint (or the reverse). `version` is the projector's code
 * version: a mismatch on open empties that projector's tables and rebuilds them from position 0.
 */
@Entity('projection_checkpoints')
export class ProjectionCheckpointRecord {
  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ type: 'integer' })
  position!: number;

  @Column({ type: 'integer' })
  version!: number;
}

import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One live repository (deleted ones leave this table; their history stays in tag_history and audit_log). */
@Entity('repositories')
export class RepositoryRecord {
  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  visibility!: string;

  @Column({ name: 'tag_count', type: 'integer' })
  tagCount!: number;

  @Column({ name: 'created_at', type: 'text' })
  createdAt!: string;

  @Column({ name: 'updated_at', type: 'text' })
  updatedAt!: string;

  /** Position of the last event that changed the repository or one of its tags. */
  @Column({ type: 'integer' })
  position!: number;
}

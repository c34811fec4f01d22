import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Every set (from null), move, and removal (to null) of a tag. One event touches one repository but
 * may remove many tags (RepositoryDeleted), hence the key (position, repository, tag).
 */
@Entity('tag_history')
@Index('tag_history_by_tag', ['repository', 'tag', 'position'])
export class TagMoveRecord {
  @PrimaryColumn({ type: 'integer' })
  position!: number;

  @PrimaryColumn({ type: 'text' })
  repository!: string;

  @PrimaryColumn({ type: 'text' })
  tag!: string;

  @Column({ name: 'from_digest', type: 'text', nullable: true })
  from!: string | null;

  @Column({ name: 'to_digest', type: 'text', nullable: true })
  to!: string | null;

  @Column({ type: 'text' })
  at!: string;

  /** The actor who moved it. */
  @Column({ name: 'actor', type: 'text' })
  by!: string;

  @Column({ name: 'event_type', type: 'text' })
  eventType!: string;
}

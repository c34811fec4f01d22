import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Every event of the log with its full envelope. `position` is INTEGER PRIMARY KEY (the rowid), so each
 * single-column index below is implicitly ordered by position: filter + page-by-position needs no sort.
 */
@Entity('audit_log')
@Index('audit_by_stream', ['streamId'])
@Index('audit_by_category', ['category'])
@Index('audit_by_type', ['type'])
@Index('audit_by_actor', ['actor'])
@Index('audit_by_correlation', ['correlationId'])
@Index('audit_by_time', ['occurredAt'])
export class AuditEventRecord {
  @PrimaryColumn({ type: 'integer' })
  position!: number;

  @Column({ name: 'event_id', type: 'text', unique: true })
  eventId!: string;

  @Column({ name: 'stream_id', type: 'text' })
  streamId!: string;

  /** The stream id's prefix before the first '-': the aggregate type (repository, image, container…). */
  @Column({ type: 'text' })
  category!: string;

  @Column({ type: 'text' })
  type!: string;

  @Column({ name: 'schema_version', type: 'integer' })
  schemaVersion!: number;

  @Column({ type: 'integer' })
  version!: number;

  @Column({ name: 'occurred_at', type: 'text' })
  occurredAt!: string;

  @Column({ type: 'text' })
  actor!: string;

  @Column({ name: 'command_id', type: 'text' })
  commandId!: string;

  @Column({ name: 'correlation_id', type: 'text' })
  correlationId!: string;

  @Column({ name: 'causation_id', type: 'text', nullable: true })
  causationId!: string | null;

  @Column({ name: 'node_id', type: 'text' })
  nodeId!: string;

  /** The payload as JSON, in its upcast (current) shape. */
  @Column({ type: 'text' })
  data!: string;
}

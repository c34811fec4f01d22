import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Every recorded change to a container's writable layer: "who changed /etc/app.conf in container X,
 * when, and what did it contain before" is a query over this table (the previous row's digest).
 */
@Entity('container_file_changes')
@Index('container_file_changes_path', ['containerId', 'path'])
export class ContainerFileChangeRecord {
  @PrimaryColumn({ type: 'integer' })
  position!: number;

  @PrimaryColumn({ type: 'integer' })
  idx!: number;

  @Column({ name: 'container_id', type: 'text' })
  containerId!: string;

  @Column({ type: 'text' })
  path!: string;

  @Column({ type: 'text' })
  kind!: string;

  @Column({ type: 'text', nullable: true })
  type!: string | null;

  @Column({ type: 'integer', nullable: true })
  size!: number | null;

  @Column({ type: 'text', nullable: true })
  digest!: string | null;

  @Column({ type: 'integer', nullable: true })
  mode!: number | null;

  @Column({ type: 'text' })
  source!: string;

  @Column({ type: 'text' })
  at!: string;

  @Column({ type: 'text' })
  actor!: string;
}

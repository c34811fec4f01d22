import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Live containers (removed ones leave; their whole life stays in audit_log and container_file_changes). */
@Entity('containers')
@Index('containers_name', ['name'])
@Index('containers_image', ['imageDigest'])
/** Covers the per-node counts placement asks for on every create (containerCountsByNode), so it never reads the rows. */
@Index('containers_node', ['nodeId', 'status'])
export class ContainerRecord {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ name: 'image_digest', type: 'text' })
  imageDigest!: string;

  @Column({ name: 'image_id', type: 'text' })
  imageId!: string;

  /** What the user asked for ("demo/app:1"), as Docker's IMAGE column shows it. */
  @Column({ name: 'image_ref', type: 'text' })
  imageRef!: string;

  @Column({ type: 'text' })
  status!: string;

  @Column({ name: 'exit_code', type: 'integer', nullable: true })
  exitCode!: number | null;

  @Column({ name: 'exit_reason', type: 'text', nullable: true })
  exitReason!: string | null;

  @Column({ name: 'restart_count', type: 'integer' })
  restartCount!: number;

  @Column({ name: 'restart_policy', type: 'text' })
  restartPolicy!: string;

  @Column({ name: 'node_id', type: 'text' })
  nodeId!: string;

  @Column({ type: 'text' })
  snapshotter!: string;

  /** ContainerRunConfig as JSON. */
  @Column({ type: 'text' })
  config!: string;

  @Column({ name: 'created_at', type: 'text' })
  createdAt!: string;

  @Column({ name: 'created_by', type: 'text' })
  createdBy!: string;

  @Column({ name: 'started_at', type: 'text', nullable: true })
  startedAt!: string | null;

  @Column({ name: 'finished_at', type: 'text', nullable: true })
  finishedAt!: string | null;

  @Column({ type: 'integer' })
  position!: number;
}

import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One live image (deleted ones leave this table; their history stays in audit_log). */
@Entity('images')
export class ImageRecord {
  @PrimaryColumn({ name: 'manifest_digest', type: 'text' })
  manifestDigest!: string;

  /** Docker's image id: the config digest. */
  @Column({ name: 'image_id', type: 'text' })
  imageId!: string;

  @Column({ name: 'manifest_media_type', type: 'text' })
  manifestMediaType!: string;

  @Column({ type: 'integer' })
  size!: number;

  /** The config's `created`, as the image says (may be absent). */
  @Column({ type: 'text', nullable: true })
  created!: string | null;

  @Column({ type: 'text', nullable: true })
  author!: string | null;

  @Column({ type: 'text' })
  architecture!: string;

  @Column({ type: 'text' })
  os!: string;

  @Column({ type: 'text' })
  origin!: string;

  @Column({ type: 'text', nullable: true })
  parent!: string | null;

  @Column({ type: 'text', nullable: true })
  source!: string | null;

  /** ImageRunConfig as JSON. */
  @Column({ type: 'text' })
  config!: string;

  /** ImageHistoryEntry[] as JSON. */
  @Column({ type: 'text' })
  history!: string;

  /** When the node recorded it (the event's time), and who. */
  @Column({ name: 'recorded_at', type: 'text' })
  recordedAt!: string;

  @Column({ name: 'recorded_by', type: 'text' })
  recordedBy!: string;

  @Column({ type: 'integer' })
  position!: number;
}

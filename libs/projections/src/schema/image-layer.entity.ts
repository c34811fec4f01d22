import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** The layers of each live image, bottom first: shared layers show up once per image, counted once in totals. */
@Entity('image_layers')
@Index('image_layers_digest', ['digest'])
export class ImageLayerRecord {
  @PrimaryColumn({ name: 'manifest_digest', type: 'text' })
  manifestDigest!: string;

  @PrimaryColumn({ type: 'integer' })
  idx!: number;

  @Column({ type: 'text' })
  digest!: string;

  @Column({ name: 'diff_id', type: 'text' })
  diffId!: string;

  @Column({ name: 'chain_id', type: 'text' })
  chainId!: string;

  @Column({ type: 'integer' })
  size!: number;

  @Column({ name: 'media_type', type: 'text' })
  mediaType!: string;
}

import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Where each tag points now. */
@Entity('tags')
export class TagRecord {
  @PrimaryColumn({ type: 'text' })
  repository!: string;

  @PrimaryColumn({ type: 'text' })
  tag!: string;

  @Column({ type: 'text' })
  digest!: string;

  @Column({ name: 'updated_at', type: 'text' })
  updatedAt!: string;

  @Column({ name: 'updated_by', type: 'text' })
  updatedBy!: string;

  @Column({ type: 'integer' })
  position!: number;
}

import type Database from 'better-sqlite3';
import { categoryOf, formatRestartPolicy, type ContainerCreatedData, type EventEnvelope, type FileChange, type ImageCreatedData } from '@strata/domain';
import type { ContainerChanges, ReadModelWriter, TagMoveRow } from './projectors/projector.js';

/**
 * The ReadModelWriter over better-sqlite3 prepared statements: the hot path of every batch, so no ORM
 * per-row save(). Runs inside the engine's batch transaction; it never commits by itself.
 */
export class SqlReadModelWriter implements ReadModelWriter {
  private readonly stmt;
  private readonly containerUpdates = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {
    this.stmt = {
      createRepository: db.prepare(
        `INSERT INTO repositories (name, visibility, tag_count, created_at, updated_at, position)
         VALUES (@name, @visibility, 0, @at, @at, @position)
         ON CONFLICT (name) DO UPDATE SET visibility = excluded.visibility, tag_count = 0,
           created_at = excluded.created_at, updated_at = excluded.updated_at, position = excluded.position`,
      ),
      clearTags: db.prepare('DELETE FROM tags WHERE repository = ?'),
      setVisibility: db.prepare('UPDATE repositories SET visibility = ?, updated_at = ?, position = ? WHERE name = ?'),
      touchRepository: db.prepare<[string, string, number, string]>(
        `UPDATE repositories SET tag_count = (SELECT COUNT(*) FROM tags WHERE repository = ?),
           updated_at = ?, position = ? WHERE name = ?`,
      ),
      deleteRepository: db.prepare('DELETE FROM repositories WHERE name = ?'),
      setTag: db.prepare<[string, string, string, string, string, number]>(
        `INSERT INTO tags (repository, tag, digest, updated_at, updated_by, position)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at,
           updated_by = excluded.updated_by, position = excluded.position`,
      ),
      removeTag: db.prepare('DELETE FROM tags WHERE repository = ? AND tag = ?'),
      recordTagMove: db.prepare<[number, string, string, string | null, string | null, string, string, string]>(
        `INSERT INTO tag_history (position, repository, tag, from_digest, to_digest, at, actor, event_type)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      createImage: db.prepare(
        `INSERT OR REPLACE INTO images (manifest_digest, image_id, manifest_media_type, size, created, author, architecture,
           os, origin, parent, source, config, history, recorded_at, recorded_by, position)
         VALUES (@manifestDigest, @imageId, @manifestMediaType, @size, @created, @author, @architecture, @os, @origin,
           @parent, @source, @config, @history, @at, @by, @position)`,
      ),
      addImageLayer: db.prepare(
        `INSERT INTO image_layers (manifest_digest, idx, digest, diff_id, chain_id, size, media_type)
         VALUES (@manifestDigest, @idx, @digest, @diffId, @chainId, @size, @mediaType)`,
      ),
      deleteImage: db.prepare('DELETE FROM images WHERE manifest_digest = ?'),
      deleteImageLayers: db.prepare('DELETE FROM image_layers WHERE manifest_digest = ?'),
      createContainer: db.prepare(
        `INSERT OR REPLACE INTO containers (id, name, image_digest, image_id, image_ref, status, exit_code, exit_reason,
           restart_count, restart_policy, node_id, snapshotter, config, created_at, created_by, started_at, finished_at, position)
         VALUES (@id, @name, @imageDigest, @imageId, @imageRef, 'created', NULL, NULL, 0, @restartPolicy, @nodeId, @snapshotter,
           @config, @at, @by, NULL, NULL, @position)`,
      ),
      removeContainer: db.prepare('DELETE FROM containers WHERE id = ?'),
      recordFileChange: db.prepare(
        `INSERT INTO container_file_changes (position, idx, container_id, path, kind, type, size, digest, mode, source, at, actor)
         VALUES (@position, @idx, @containerId, @path, @kind, @type, @size, @digest, @mode, @source, @at, @actor)`,
      ),
      recordEvent: db.prepare<[number, string, string, string, string, number, number, string, string, string, string, string | null, string, string]>(
        `INSERT INTO audit_log (position, event_id, stream_id, category, type, schema_version, version, occurred_at,
           actor, command_id, correlation_id, causation_id, node_id, data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
    };
  }

  createRepository(row: { name: string; visibility: string; at: string; position: number }): void {
    // A re-created repository starts empty, whatever a lost delete might have left.
    this.stmt.clearTags.run(row.name);
    this.stmt.createRepository.run(row);
  }

  setRepositoryVisibility(name: string, visibility: string, at: string, position: number): void {
    this.stmt.setVisibility.run(visibility, at, position, name);
  }

  touchRepository(name: string, at: string, position: number): void {
    this.stmt.touchRepository.run(name, at, position, name);
  }

  deleteRepository(name: string): void {
    this.stmt.clearTags.run(name);
    this.stmt.deleteRepository.run(name);
  }

  setTag(row: { repository: string; tag: string; digest: string; at: string; by: string; position: number }): void {
    this.stmt.setTag.run(row.repository, row.tag, row.digest, row.at, row.by, row.position);
  }

  removeTag(repository: string, tag: string): void {
    this.stmt.removeTag.run(repository, tag);
  }

  recordTagMove(row: TagMoveRow): void {
    this.stmt.recordTagMove.run(row.position, row.repository, row.tag, row.from, row.to, row.at, row.by, row.eventType);
  }

  createImage(image: ImageCreatedData, at: string, by: string, position: number): void {
    const { manifestDigest } = image;
    this.stmt.deleteImageLayers.run(manifestDigest);
    this.stmt.createImage.run({
      manifestDigest,
      imageId: image.imageId,
      manifestMediaType: image.manifestMediaType,
      size: image.size,
      created: image.created,
      author: image.author,
      architecture: image.architecture,
      os: image.os,
      origin: image.origin,
      parent: image.parent,
      source: image.source,
      config: JSON.stringify(image.config),
      history: JSON.stringify(image.history),
      at,
      by,
      position,
    });
    image.layers.forEach((layer, idx) =>
      this.stmt.addImageLayer.run({ manifestDigest, idx, digest: layer.digest, diffId: layer.diffId, chainId: image.chainIds[idx], size: layer.size, mediaType: layer.mediaType }),
    );
  }

  deleteImage(manifestDigest: string): void {
    this.stmt.deleteImageLayers.run(manifestDigest);
    this.stmt.deleteImage.run(manifestDigest);
  }

  createContainer(c: ContainerCreatedData, at: string, by: string, position: number): void {
    this.stmt.createContainer.run({
      id: c.id,
      name: c.name,
      imageDigest: c.image.manifestDigest,
      imageId: c.image.imageId,
      imageRef: c.image.reference,
      restartPolicy: formatRestartPolicy(c.restartPolicy),
      nodeId: c.nodeId,
      snapshotter: c.snapshotter,
      config: JSON.stringify(c.config),
      at,
      by,
      position,
    });
  }

  updateContainer(id: string, changes: ContainerChanges, position: number): void {
    const columns: Record<keyof ContainerChanges, string> = {
      status: 'status', name: 'name', exitCode: 'exit_code', exitReason: 'exit_reason',
      restartCount: 'restart_count', startedAt: 'started_at', finishedAt: 'finished_at',
    };
    const keys = (Object.keys(changes) as (keyof ContainerChanges)[]).filter((k) => changes[k] !== undefined);
    // One statement per shape of change, prepared once (the shapes are few and fixed by the projector).
    const sql = `UPDATE containers SET ${keys.map((k) => `${columns[k]} = @${k}`).join(', ')}${keys.length ? ', ' : ''}position = @position WHERE id = @id`;
    let statement = this.containerUpdates.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.containerUpdates.set(sql, statement);
    }
    statement.run({ ...Object.fromEntries(keys.map((k) => [k, changes[k]])), id, position });
  }

  removeContainer(id: string): void {
    this.stmt.removeContainer.run(id);
  }

  recordFileChanges(id: string, source: string, changes: FileChange[], at: string, by: string, position: number): void {
    changes.forEach((c, idx) =>
      this.stmt.recordFileChange.run({
        position, idx, containerId: id, path: c.path, kind: c.kind, type: c.type, size: c.size, digest: c.digest, mode: c.mode, source, at, actor: by,
      }),
    );
  }

  recordEvent(event: EventEnvelope): void {
    // Positional, in the column order above: the hottest statement of a rebuild (one row per event).
    this.stmt.recordEvent.run(
      event.position,
      event.eventId,
      event.streamId,
      categoryOf(event.streamId),
      event.type,
      event.schemaVersion,
      event.version,
      event.occurredAt,
      event.actor,
      event.commandId,
      event.correlationId,
      event.causationId ?? null,
      event.nodeId,
      JSON.stringify(event.data ?? null),
    );
  }
}

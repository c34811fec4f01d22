import type Database from 'better-sqlite3';
import { categoryOf, type EventEnvelope, type ImageCreatedData } from '@strata/domain';
import type { ReadModelWriter, TagMoveRow } from './projectors/projector.js';

/**
 * The ReadModelWriter over better-sqlite3 prepared statements: the hot path of every batch, so no ORM
 * per-row save(). Runs inside the engine's batch transaction; it never commits by itself.
 */
export class SqlReadModelWriter implements ReadModelWriter {
  private readonly stmt;

  constructor(db: Database.Database) {
    this.stmt = {
      createRepository: db.prepare(
        `INSERT INTO repositories (name, visibility, tag_count, created_at, updated_at, position)
         VALUES (@name, @visibility, 0, @at, @at, @position)
         ON CONFLICT (name) DO UPDATE SET visibility = excluded.visibility, tag_count = 0,
           created_at = excluded.created_at, updated_at = excluded.updated_at, position = excluded.position`,
      ),
      clearTags: db.prepare('DELETE FROM tags WHERE repository = ?'),
      setVisibility: db.prepare('UPDATE repositories SET visibility = ?, updated_at = ?, position = ? WHERE name = ?'),
      touchRepository: db.prepare(
        `UPDATE repositories SET tag_count = (SELECT COUNT(*) FROM tags WHERE repository = @name),
           updated_at = @at, position = @position WHERE name = @name`,
      ),
      deleteRepository: db.prepare('DELETE FROM repositories WHERE name = ?'),
      setTag: db.prepare(
        `INSERT INTO tags (repository, tag, digest, updated_at, updated_by, position)
         VALUES (@repository, @tag, @digest, @at, @by, @position)
         ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at,
           updated_by = excluded.updated_by, position = excluded.position`,
      ),
      removeTag: db.prepare('DELETE FROM tags WHERE repository = ? AND tag = ?'),
      recordTagMove: db.prepare(
        `INSERT INTO tag_history (position, repository, tag, from_digest, to_digest, at, actor, event_type)
         VALUES (@position, @repository, @tag, @from, @to, @at, @by, @eventType)`,
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
      recordEvent: db.prepare(
        `INSERT INTO audit_log (position, event_id, stream_id, category, type, schema_version, version, occurred_at,
           actor, command_id, correlation_id, causation_id, node_id, data)
         VALUES (@position, @eventId, @streamId, @category, @type, @schemaVersion, @version, @occurredAt,
           @actor, @commandId, @correlationId, @causationId, @nodeId, @data)`,
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
    this.stmt.touchRepository.run({ name, at, position });
  }

  deleteRepository(name: string): void {
    this.stmt.clearTags.run(name);
    this.stmt.deleteRepository.run(name);
  }

  setTag(row: { repository: string; tag: string; digest: string; at: string; by: string; position: number }): void {
    this.stmt.setTag.run(row);
  }

  removeTag(repository: string, tag: string): void {
    this.stmt.removeTag.run(repository, tag);
  }

  recordTagMove(row: TagMoveRow): void {
    this.stmt.recordTagMove.run(row);
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

  recordEvent(event: EventEnvelope): void {
    this.stmt.recordEvent.run({
      position: event.position,
      eventId: event.eventId,
      streamId: event.streamId,
      category: categoryOf(event.streamId),
      type: event.type,
      schemaVersion: event.schemaVersion,
      version: event.version,
      occurredAt: event.occurredAt,
      actor: event.actor,
      commandId: event.commandId,
      correlationId: event.correlationId,
      causationId: event.causationId ?? null,
      nodeId: event.nodeId,
      data: JSON.stringify(event.data ?? null),
    });
  }
}

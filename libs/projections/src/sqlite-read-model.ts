import type Database from 'better-sqlite3';
import type { ContainerView, EventView, FileChangeView, ImageView, RepositoryView, TagMoveView, TagView, Visibility } from '@strata/api';
import { toContainerView, toFileChangeView, type ContainerRow, type FileChangeRow } from './container-views.js';
import { compileEventFilter, type EventFilter } from './event-filter.js';
import { toImageView, type ImageLayerRow, type ImageRow } from './image-views.js';
import type { ReadDatabase } from './read-database.js';
import type { ContainerCounts, EventPage, ReadModel } from './read-model.js';
import type { ChecksumOptions } from './checksum.js';

interface RepositoryRow {
  name: string;
  visibility: string;
  tag_count: number;
  created_at: string;
  updated_at: string;
  position: number;
}
interface TagRow {
  repository: string;
  tag: string;
  digest: string;
  updated_at: string;
  updated_by: string;
  position: number;
}
interface TagMoveRow {
  repository: string;
  tag: string;
  from_digest: string | null;
  to_digest: string | null;
  at: string;
  actor: string;
  position: number;
  event_type: string;
}
interface AuditRow {
  position: number;
  event_id: string;
  stream_id: string;
  type: string;
  schema_version: number;
  version: number;
  occurred_at: string;
  actor: string;
  command_id: string;
  correlation_id: string;
  causation_id: string | null;
  node_id: string;
  data: string;
}

const toRepository = (r: RepositoryRow): RepositoryView => ({
  name: r.name,
  visibility: r.visibility as Visibility,
  tagCount: r.tag_count,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  position: r.position,
});
const toTag = (r: TagRow): TagView => ({
  repository: r.repository,
  tag: r.tag,
  digest: r.digest,
  updatedAt: r.updated_at,
  updatedBy: r.updated_by,
  position: r.position,
});
const toTagMove = (r: TagMoveRow): TagMoveView => ({
  repository: r.repository,
  tag: r.tag,
  from: r.from_digest,
  to: r.to_digest,
  at: r.at,
  by: r.actor,
  position: r.position,
  eventType: r.event_type,
});
const toEvent = (r: AuditRow): EventView => ({
  eventId: r.event_id,
  type: r.type,
  schemaVersion: r.schema_version,
  streamId: r.stream_id,
  version: r.version,
  position: r.position,
  occurredAt: r.occurred_at,
  actor: r.actor,
  commandId: r.command_id,
  correlationId: r.correlation_id,
  causationId: r.causation_id,
  nodeId: r.node_id,
  data: JSON.parse(r.data),
});

const tagName = (t: TagRow) => `${t.repository}:${t.tag}`;
function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

const MOVE_COLUMNS = 'repository, tag, from_digest, to_digest, at, actor, position, event_type';
const AUDIT_COLUMNS = `position, event_id, stream_id, type, schema_version, version, occurred_at, actor, command_id,
  correlation_id, causation_id, node_id, data`;

/**
 * ReadModel over one ReadDatabase, in raw SQL (prepared once). Each answer is read synchronously: one
 * consistent snapshot, no batch lands in the middle of it.
 */
export class SqliteReadModel implements ReadModel {
  private readonly stmt;
  /** Audit queries vary by filter; their statements are cached by SQL text. */
  private readonly eventQueries = new Map<string, Database.Statement>();

  constructor(protected readonly db: ReadDatabase) {
    const raw = db.raw;
    this.stmt = {
      repositories: raw.prepare<[], RepositoryRow>('SELECT * FROM repositories ORDER BY name'),
      repository: raw.prepare<[string], RepositoryRow>('SELECT * FROM repositories WHERE name = ?'),
      tags: raw.prepare<[string], TagRow>('SELECT * FROM tags WHERE repository = ? ORDER BY tag'),
      history: raw.prepare<[string], TagMoveRow>(
        `SELECT ${MOVE_COLUMNS} FROM tag_history WHERE repository = ? ORDER BY position, tag`,
      ),
      tagHistory: raw.prepare<[string, string], TagMoveRow>(
        `SELECT ${MOVE_COLUMNS} FROM tag_history WHERE repository = ? AND tag = ? ORDER BY position`,
      ),
      images: raw.prepare<[], ImageRow>('SELECT * FROM images ORDER BY position DESC'),
      image: raw.prepare<[string], ImageRow>('SELECT * FROM images WHERE manifest_digest = ?'),
      imagesByPrefix: raw.prepare<[string, string], ImageRow>(
        // The prefix is checked to be hex before it gets here, so LIKE sees no wildcards of the user's.
        'SELECT * FROM images WHERE image_id LIKE ? OR manifest_digest LIKE ? ORDER BY position DESC',
      ),
      layers: raw.prepare<[string], ImageLayerRow>('SELECT * FROM image_layers WHERE manifest_digest = ? ORDER BY idx'),
      allLayers: raw.prepare<[], ImageLayerRow>('SELECT * FROM image_layers ORDER BY manifest_digest, idx'),
      tagsOf: raw.prepare<[string], TagRow>('SELECT * FROM tags WHERE digest = ? ORDER BY repository, tag'),
      allTags: raw.prepare<[], TagRow>('SELECT * FROM tags ORDER BY repository, tag'),
      containers: raw.prepare<[], ContainerRow>("SELECT * FROM containers WHERE status IN ('running', 'paused') ORDER BY position DESC"),
      allContainers: raw.prepare<[], ContainerRow>('SELECT * FROM containers ORDER BY created_at DESC, id'),
      container: raw.prepare<[string], ContainerRow>('SELECT * FROM containers WHERE id = ?'),
      containerCounts: raw.prepare<[], { node_id: string; containers: number; running: number }>(
        // Answered from the containers_node index alone.
        "SELECT node_id, count(*) AS containers, sum(status IN ('running', 'paused')) AS running FROM containers WHERE status != 'removed' GROUP BY node_id",
      ),
      containersByRef: raw.prepare<[string, string, string], ContainerRow>(
        'SELECT * FROM containers WHERE id = ? OR name = ? OR id LIKE ? ORDER BY id',
      ),
      fileChangeDigests: raw.prepare<[], { digest: string }>('SELECT DISTINCT digest FROM container_file_changes WHERE digest IS NOT NULL'),
      containersOfImage: raw.prepare<[string], { id: string }>('SELECT id FROM containers WHERE image_digest = ? ORDER BY id'),
      fileChanges: raw.prepare<[string], FileChangeRow>('SELECT * FROM container_file_changes WHERE container_id = ? ORDER BY position, idx'),
      fileChangesOfPath: raw.prepare<[string, string], FileChangeRow>(
        'SELECT * FROM container_file_changes WHERE container_id = ? AND path = ? ORDER BY position, idx',
      ),
      tagAt: raw.prepare<[string, string, number], TagMoveRow>(
        `SELECT ${MOVE_COLUMNS} FROM tag_history WHERE repository = ? AND tag = ? AND position <= ?
         ORDER BY position DESC LIMIT 1`,
      ),
    };
  }

  async listRepositories(): Promise<RepositoryView[]> {
    return this.stmt.repositories.all().map(toRepository);
  }

  async getRepository(name: string): Promise<RepositoryView | null> {
    const row = this.stmt.repository.get(name);
    return row ? toRepository(row) : null;
  }

  async listTags(name: string): Promise<TagView[]> {
    return this.stmt.tags.all(name).map(toTag);
  }

  async tagHistory(name: string, tag?: string): Promise<TagMoveView[]> {
    const rows = tag === undefined ? this.stmt.history.all(name) : this.stmt.tagHistory.all(name, tag);
    return rows.map(toTagMove);
  }

  async tagAt(name: string, tag: string, position: number): Promise<TagMoveView | null> {
    const row = this.stmt.tagAt.get(name, tag, position);
    return row ? toTagMove(row) : null;
  }

  async listImages(): Promise<ImageView[]> {
    // Three queries, not one per image: the image list can be long.
    const layers = groupBy(this.stmt.allLayers.all(), (l) => l.manifest_digest);
    const tags = groupBy(this.stmt.allTags.all(), (t) => t.digest);
    return this.stmt.images.all().map((row) =>
      toImageView(row, layers.get(row.manifest_digest) ?? [], (tags.get(row.manifest_digest) ?? []).map(tagName)),
    );
  }

  async getImage(manifestDigest: string): Promise<ImageView | null> {
    const row = this.stmt.image.get(manifestDigest);
    return row ? this.imageView(row) : null;
  }

  async findImagesByPrefix(prefix: string): Promise<ImageView[]> {
    if (!/^[a-f0-9]{1,64}$/.test(prefix)) return [];
    const pattern = `sha256:${prefix}%`;
    return this.stmt.imagesByPrefix.all(pattern, pattern).map((row) => this.imageView(row));
  }

  async liveImageBlobs(): Promise<Set<string>> {
    const live = new Set<string>();
    for (const row of this.stmt.images.all()) live.add(row.manifest_digest).add(row.image_id);
    for (const layer of this.stmt.allLayers.all()) live.add(layer.digest);
    // File contents recorded by ContainerFilesChanged: the audit trail of what a file contained.
    for (const row of this.stmt.fileChangeDigests.all()) live.add(row.digest);
    return live;
  }

  async listContainers(all: boolean): Promise<ContainerView[]> {
    return (all ? this.stmt.allContainers : this.stmt.containers).all().map(toContainerView);
  }

  async getContainer(id: string): Promise<ContainerView | null> {
    const row = this.stmt.container.get(id);
    return row ? toContainerView(row) : null;
  }

  async containerCountsByNode(): Promise<Map<string, ContainerCounts>> {
    return new Map(this.stmt.containerCounts.all().map((r) => [r.node_id, { containers: r.containers, running: r.running }]));
  }

  async findContainers(ref: string): Promise<ContainerView[]> {
    const prefix = /^[a-f0-9]{1,64}$/.test(ref) ? `${ref}%` : '\0'; // only hex is an id prefix
    return this.stmt.containersByRef.all(ref, ref, prefix).map(toContainerView);
  }

  async containersUsingImage(manifestDigest: string): Promise<string[]> {
    return this.stmt.containersOfImage.all(manifestDigest).map((r) => r.id);
  }

  async fileChanges(containerId: string, path?: string): Promise<FileChangeView[]> {
    const rows = path === undefined ? this.stmt.fileChanges.all(containerId) : this.stmt.fileChangesOfPath.all(containerId, path);
    return rows.map(toFileChangeView);
  }

  private imageView(row: ImageRow): ImageView {
    return toImageView(row, this.stmt.layers.all(row.manifest_digest), this.stmt.tagsOf.all(row.manifest_digest).map(tagName));
  }

  async queryEvents(filter: EventFilter = {}): Promise<EventPage> {
    const query = compileEventFilter(filter);
    // One row more than asked tells whether another page exists.
    const sql = `SELECT ${AUDIT_COLUMNS} FROM audit_log ${query.where} ORDER BY position LIMIT ?`;
    let statement = this.eventQueries.get(sql);
    if (!statement) {
      if (this.eventQueries.size >= 64) this.eventQueries.clear(); // bounded: `types` lists vary in length
      statement = this.db.raw.prepare(sql);
      this.eventQueries.set(sql, statement);
    }
    const rows = statement.all(...query.params, query.limit + 1) as AuditRow[];
    const more = rows.length > query.limit;
    const items = (more ? rows.slice(0, query.limit) : rows).map(toEvent);
    return { items, next: more ? items[items.length - 1].position : null };
  }

  async checksum(options: ChecksumOptions = {}): Promise<string> {
    return this.db.checksum(options);
  }
}

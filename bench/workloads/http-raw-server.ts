/**
 * Workload 4's raw reference: the same work as Strata's command and audit requests with nothing but
 * node:http and better-sqlite3 — a POST parses its JSON body and inserts one row into an `events`
 * table with Strata's schema (WAL, synchronous=FULL, one transaction per request), answering 201 with a
 * small JSON; a GET answers the oldest 50 rows (as GET /events?limit=50) as JSON. Binds 127.0.0.1 on a free port, prints
 * `{"port": N}` once listening, exits on SIGTERM. Argument: the database file.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { EVENT_LOG_SCHEMA } from '../../libs/eventstore/src/sqlite/schema.ts';

const db = new Database(process.argv[2]);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec(EVENT_LOG_SCHEMA);
const insert = db.prepare(
  `INSERT INTO events (event_id, stream_id, version, type, schema_version, occurred_at, actor, command_id, correlation_id, causation_id, node_id, data)
   VALUES (?, ?, 1, 'RepositoryCreated', 2, ?, 'admin', ?, ?, NULL, 'raw', ?)`,
);
const newest = db.prepare('SELECT * FROM events ORDER BY position LIMIT 50');

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (c: Buffer) => chunks.push(c));
  request.on('end', () => {
    try {
      if (request.method === 'POST') {
        const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { name: string };
        const id = randomUUID();
        const r = insert.run(id, `repository-${input.name}`, new Date().toISOString(), id, id, JSON.stringify({ name: input.name, visibility: 'private' }));
        response.writeHead(201, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ commandId: id, streamId: `repository-${input.name}`, version: 1, position: Number(r.lastInsertRowid), duplicate: false }));
      } else {
        const rows = newest.all();
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ items: rows }));
      }
    } catch (error) {
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: String(error) }));
    }
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`));
process.on('SIGTERM', () => server.close(() => (db.close(), process.exit(0))));

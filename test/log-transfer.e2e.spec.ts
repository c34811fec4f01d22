import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../libs/eventstore/src/testing/nats-server.js';
import { importImage } from './support/images.js';
import { ADMIN_TOKEN, startTestNode } from './support/test-node.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/strata.js');

/** The real binary (built by npm test), with no node running: export-log and import-log open the log themselves. */
function strata(...args: string[]) {
  const env = { ...process.env };
  for (const key of ['STRATA_NATS_URL', 'STRATA_DATA_DIR', 'STRATA_NATS_STREAM']) delete env[key];
  return spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 60_000 });
}

const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
/** An envelope without its position: what must survive a copy between backends. */
const portable = ({ position: _position, ...rest }: Record<string, unknown>) => rest;

/**
 * A whole log copied SQLite → JetStream → SQLite with `strata export-log | import-log`: order, ids and
 * envelopes kept, the projections' portable checksum the same on every side, a second import a no-op,
 * and an import into another log refused with nothing written.
 */
describe('strata export-log / import-log', () => {
  let nats: NatsServerHandle;
  let work: string;
  let sourceDir: string;
  let source: { checksum: string; portableChecksum: string; head: number };

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/apps/strata'))) throw new Error('strata is not built: run `npm run build` before this test (npm test does)');
    nats = await startNatsServer();
    work = mkdtempSync(join(tmpdir(), 'strata-log-transfer-'));
    sourceDir = join(work, 'source');
    // A log with some history: repositories made, tags moved and removed, an image deleted, a repository deleted.
    const a = await startTestNode({ dataDir: sourceDir });
    try {
      const one = await importImage(a.url, ADMIN_TOKEN, 'one', 'app:v1');
      const two = await importImage(a.url, ADMIN_TOKEN, 'two', 'app:v2');
      await importImage(a.url, ADMIN_TOKEN, 'three', 'scratch:x');
      expect((await a.json('PUT', '/repositories/app/tags/latest', { digest: one })).status).toBe(200);
      expect((await a.json('PUT', '/repositories/app/tags/latest', { digest: two })).status).toBe(200);
      expect((await a.json('PUT', '/repositories/app/visibility', { visibility: 'public' })).status).toBe(200);
      expect((await a.json('DELETE', '/repositories/app/tags/v1')).status).toBe(200);
      expect((await a.json('DELETE', '/images/scratch:x?force=true')).status).toBe(200);
      expect((await a.json('POST', '/repositories', { name: 'gone' })).status).toBe(201);
      expect((await a.json('DELETE', '/repositories/gone')).status).toBe(200);
      const head = (await a.json('GET', '/healthz')).body.head as number;
      const sums = (await a.json('GET', `/admin/checksum?minPosition=${head}`)).body;
      source = { checksum: sums.checksum, portableChecksum: sums.portableChecksum, head };
    } finally {
      await a.stop();
    }
  });
  afterAll(async () => {
    await nats?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('copies SQLite to JetStream and back, keeping order, ids and envelopes, with equal projections', async () => {
    const exported = join(work, 'from-sqlite.ndjson');
    const out = strata('export-log', '--data-dir', sourceDir, '-o', exported);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stderr).toMatch(/exported \d+ events from SQLite/);
    const events = lines(exported);
    expect(events.length).toBeGreaterThan(10);
    expect(events.map((e) => e.position)).toEqual([...events.map((e) => e.position as number)].sort((x, y) => x - y));

    const imported = strata('import-log', '--nats', nats.url, '-i', exported, '--json');
    expect(imported.status, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ command: 'import-log', events: events.length, appended: events.length, present: 0 });
    // Run again (an interrupted import is simply repeated): nothing is appended twice.
    const again = strata('import-log', '--nats', nats.url, '-i', exported, '--json');
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ appended: 0, present: events.length });

    // A node on JetStream, from an empty data directory, projects the same state.
    const b = await startTestNode({ env: { STRATA_NATS_URL: nats.url } });
    let onJetStream: Record<string, unknown>[];
    try {
      // The node records its own NodeJoined after the imported events: compare as of the last imported one.
      const head = (await b.json('GET', '/healthz')).body.head as number;
      const onB = (await b.json('GET', `/events?limit=1000&minPosition=${head}`)).body.items as Array<{ position: number; eventId: string }>;
      const lastImported = onB.find((e) => e.eventId === events.at(-1)!.eventId)!.position;
      const sums = (await b.json('GET', `/admin/checksum?at=${lastImported}`)).body;
      expect(sums.portableChecksum).toBe(source.portableChecksum);
      const back = join(work, 'from-jetstream.ndjson');
      const out2 = strata('export-log', '--nats', nats.url, '-o', back);
      expect(out2.status, out2.stderr).toBe(0);
      onJetStream = lines(back);
      expect(onJetStream.slice(0, events.length).map(portable)).toEqual(events.map(portable));
      expect(onJetStream.slice(events.length).map((e) => e.type)).toEqual(['NodeJoined']);

      // And back into a fresh SQLite log: even the positions are those of the original.
      const targetDir = join(work, 'target');
      const imported2 = strata('import-log', '--data-dir', targetDir, '-i', back);
      expect(imported2.status, imported2.stderr).toBe(0);
      expect(imported2.stderr).toMatch(new RegExp(`imported ${onJetStream.length} events into SQLite .*: ${onJetStream.length} appended, 0 already there`));
      const c = await startTestNode({ dataDir: targetDir });
      try {
        const sumsC = (await c.json('GET', `/admin/checksum?at=${source.head}`)).body;
        expect(sumsC).toMatchObject({ checksum: source.checksum, portableChecksum: source.portableChecksum, position: source.head });
      } finally {
        await c.stop();
      }
    } finally {
      await b.stop();
    }
  });

  it('refuses to import into another log, writing nothing of the refused append', async () => {
    const exported = join(work, 'again.ndjson');
    expect(strata('export-log', '--data-dir', sourceDir, '-o', exported).status).toBe(0);
    const otherDir = join(work, 'other');
    const other = await startTestNode({ dataDir: otherDir });
    const head = (await other.json('POST', '/repositories', { name: 'app' })).body.position as number; // the same stream, other events
    await other.stop();
    const refused = strata('import-log', '--data-dir', otherDir, '-i', exported);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/stream repository-app is at version 1 in the target.*import into an empty log/);
    const check = await startTestNode({ dataDir: otherDir });
    try {
      // Events before the conflicting append are in (an import is resumable, not all-or-nothing), none of it after.
      const events = (await check.json('GET', '/events?limit=1000')).body.items as Array<{ streamId: string }>;
      expect(events.filter((e) => e.streamId === 'repository-app')).toHaveLength(1);
      expect(head).toBe(1);
    } finally {
      await check.stop();
    }
  });

  it('says what is wrong with a bad export file or an unreachable log', async () => {
    const bad = join(work, 'bad.ndjson');
    writeFileSync(bad, '{"eventId":"x"}\n');
    const r = strata('import-log', '--data-dir', join(work, 'empty'), '-i', bad);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/line 1 is not an event envelope/);
    const down = strata('export-log', '--nats', 'nats://127.0.0.1:1', '-o', join(work, 'never.ndjson'));
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/cannot reach NATS at nats:\/\/127\.0\.0\.1:1/);
    expect(existsSync(join(work, 'never.ndjson'))).toBe(false);
    expect(existsSync(join(work, 'never.ndjson.partial'))).toBe(false);
  });
});

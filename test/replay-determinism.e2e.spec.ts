import Database from 'better-sqlite3';
import { CommandBus } from '@nestjs/cqrs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecuteCommand } from '../apps/strata/src/commands/execute-command.js';
import { importImage } from './support/images.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';

/** A small deterministic PRNG (mulberry32), so a failure can be reproduced from its seed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMMANDS = 2500;
const SEED = 20261128;

describe('replay determinism through the whole node', () => {
  let t: TestNode;
  let head = 0;
  beforeAll(async () => {
    t = await startTestNode();
    // Real images first: tags point only at images that exist (their events are part of the log replayed).
    const images: string[] = [];
    for (let n = 1; n <= 12; n++) images.push(await importImage(t.url, ADMIN_TOKEN, `replayed-${n}`));
    const bus = t.node.app.get(CommandBus);
    const rand = prng(SEED);
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    const repos = new Map<string, Set<string>>(); // what exists, to issue only valid commands
    const actors = ['alice', 'bob', 'ci-bot'];
    let clock = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < COMMANDS; i++) {
      clock += 1000 + Math.floor(rand() * 60_000);
      const meta = {
        commandId: `cmd-${i}`, actor: pick(actors), correlationId: `corr-${i % 97}`, causationId: null,
        occurredAt: new Date(clock).toISOString(), nodeId: 'node-test',
      };
      const names = [...repos.keys()];
      const r = rand();
      let name: string, input: Record<string, unknown>;
      if (names.length < 3 || r < 0.08) {
        name = 'CreateRepository';
        const repo = `team-${i % 5}/app-${i}`;
        repos.set(repo, new Set());
        input = { name: repo, visibility: pick(['public', 'private']) };
      } else if (r < 0.75) {
        name = 'TagImage';
        const repo = pick(names);
        const tag = pick(['latest', 'stable', 'v1', 'v2', 'canary']);
        repos.get(repo)!.add(tag);
        input = { name: repo, tag, digest: pick(images) };
      } else if (r < 0.88) {
        const repo = pick(names);
        const tags = [...repos.get(repo)!];
        if (tags.length === 0) continue;
        const tag = pick(tags);
        repos.get(repo)!.delete(tag);
        name = 'UntagImage';
        input = { name: repo, tag };
      } else if (r < 0.96) {
        name = 'SetRepositoryVisibility';
        input = { name: pick(names), visibility: pick(['public', 'private']) };
      } else {
        const repo = pick(names);
        repos.delete(repo);
        name = 'DeleteRepository';
        input = { name: repo, force: true };
      }
      const reply = await bus.execute(new ExecuteCommand(name, input, meta));
      head = Math.max(head, reply.position);
    }
  });
  afterAll(() => t.stop());

  it('rebuilds every read model from the log with the identical checksum', async () => {
    expect(head).toBeGreaterThan(COMMANDS * 0.8);
    const before = await t.json('GET', `/admin/checksum?minPosition=${head}`);
    expect(before.status).toBe(200);
    const replay = await t.call('POST', '/admin/replay');
    const lines = (await replay.text()).trim().split('\n').map((l) => JSON.parse(l));
    const result = lines.at(-1);
    expect(lines.some((l) => l.kind === 'progress')).toBe(true);
    expect(result).toMatchObject({ kind: 'result', events: head });
    expect(result.checksumAfter).toBe(result.checksumBefore);
    expect(result.checksumBefore).toBe(before.body.checksum);
    const after = await t.json('GET', '/admin/checksum');
    expect(after.body.checksum).toBe(before.body.checksum);
  });

  it('answers as of a middle position exactly like a node that only ever saw the log up to there', async () => {
    const middle = Math.floor(head / 2);
    const travelled = await t.json('GET', `/admin/checksum?at=${middle}`);
    expect(travelled.body.position).toBe(middle);
    const repos = await t.json('GET', `/repositories?at=${middle}`);

    // A second node whose log is the first `middle` events, copied row for row.
    const dir = mkdtempSync(join(tmpdir(), 'strata-prefix-'));
    try {
      const db = new Database(join(dir, 'strata.db'));
      db.exec(`ATTACH DATABASE '${join(t.dataDir, 'strata.db')}' AS full`);
      db.exec('CREATE TABLE events AS SELECT * FROM full.events WHERE 0');
      db.exec('DROP TABLE events');
      const ddl = db.prepare("SELECT sql FROM full.sqlite_master WHERE type IN ('table','index') AND tbl_name = 'events' AND sql IS NOT NULL").all() as { sql: string }[];
      for (const { sql } of ddl) db.exec(sql);
      db.prepare('INSERT INTO main.events SELECT * FROM full.events WHERE position <= ?').run(middle);
      db.exec('DETACH DATABASE full');
      db.close();
      const partial = await startTestNode({ dataDir: dir });
      try {
        const fresh = await partial.json('GET', `/admin/checksum?minPosition=${middle}`);
        expect(fresh.body.checksum).toBe(travelled.body.checksum);
        const freshRepos = await partial.json('GET', `/repositories?minPosition=${middle}`);
        expect(freshRepos.body.items).toEqual(repos.body.items);
      } finally {
        await partial.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventsReply, ListReply, MirrorAddedReply, MirrorView, TagView } from '@strata/api';
import { Readable } from 'node:stream';
import { run } from '../apps/cli/src/cli.js';
import { captureIo } from '../apps/cli/src/testing/fake-node.js';
import { importImage } from './support/images.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';

const enc = encodeURIComponent;

/** Polls `probe` until it returns a value (not undefined), or fails after `ms`. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

async function tags(node: TestNode, repository: string): Promise<Record<string, string>> {
  const { status, body } = await node.json<ListReply<TagView>>('GET', `/repositories/${enc(repository)}/tags`);
  if (status === 404) return {};
  return Object.fromEntries(body.items.map((t) => [t.tag, t.digest]));
}

/** Waits until `repository` on `node` has exactly `expected` (tag → digest). */
const tagsBecome = (node: TestNode, repository: string, expected: Record<string, string>) =>
  eventually(`${repository} to be ${JSON.stringify(expected)}`, async () => {
    const now = await tags(node, repository);
    return JSON.stringify(Object.entries(now).sort()) === JSON.stringify(Object.entries(expected).sort()) ? now : undefined;
  });

async function strata(node: TestNode, args: string[], stdin?: string) {
  const { io, out, err } = captureIo(
    { STRATA_URL: node.url, STRATA_TOKEN: ADMIN_TOKEN, HOME: node.dataDir },
    stdin === undefined ? {} : { stdin: Object.assign(Readable.from([Buffer.from(stdin)]), { isTTY: false }) as never },
  );
  const code = await run(args, io);
  return { code, out: out(), err: err() };
}

describe('mirrors: push once, pull anywhere', () => {
  let a: TestNode;
  let b: TestNode;
  let secret = '';
  const previousPoll = process.env.STRATA_MIRROR_POLL_MS;

  beforeAll(async () => {
    process.env.STRATA_MIRROR_POLL_MS = '300';
    a = await startTestNode({ nodeId: 'node-a' });
    b = await startTestNode({ nodeId: 'node-b', keepData: true });
  }, 60_000);

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    if (b) rmSync(b.dataDir, { recursive: true, force: true });
    if (previousPoll === undefined) delete process.env.STRATA_MIRROR_POLL_MS;
    else process.env.STRATA_MIRROR_POLL_MS = previousPoll;
  });

  it('syncs the existing tags, follows new tags, moves and untags, and stops when removed', async () => {
    const one = await importImage(a.url, ADMIN_TOKEN, 'mirror-one', 'team/app:1');
    // The mirror's own principal on A (an administrator there: the event stream is for administrators).
    const created = await a.json<{ token: string }>('POST', '/tokens', { name: 'mirror-b', grants: ['admin:*'] });
    expect(created.status).toBe(201);
    secret = created.body.token;

    const added = await b.json<MirrorAddedReply>('POST', '/mirrors', {
      source: a.url,
      repository: 'team/app',
      localRepository: 'copy/app',
      credentials: { username: 'mirror-b', password: secret },
    });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    const id = added.body.mirror.id;
    expect(added.body.mirror).toMatchObject({ source: a.url, repository: 'team/app', localRepository: 'copy/app', hasCredentials: true });
    expect(JSON.stringify(added.body)).not.toContain(secret);
    const credentialsFile = join(b.dataDir, 'mirror-credentials.json');
    expect(statSync(credentialsFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(credentialsFile, 'utf8')).toContain(secret); // kept here, and only here

    // The tag A had before the mirror existed.
    await tagsBecome(b, 'copy/app', { '1': one });
    const view = await eventually('the mirror to follow the stream', async () => {
      const m = (await b.json<MirrorView>('GET', `/mirrors/${id}`)).body;
      return m.state === 'following' ? m : undefined;
    });
    expect(view.position).toBeGreaterThan(0);

    // A new tag, then a move of the old one: same manifest digests on B.
    const two = await importImage(a.url, ADMIN_TOKEN, 'mirror-two', 'team/app:2');
    await tagsBecome(b, 'copy/app', { '1': one, '2': two });
    expect((await a.json('PUT', `/repositories/${enc('team/app')}/tags/1`, { digest: two })).status).toBe(200);
    await tagsBecome(b, 'copy/app', { '1': two, '2': two });

    // An untag on A untags on B.
    expect((await a.json('DELETE', `/repositories/${enc('team/app')}/tags/2`)).status).toBe(200);
    await tagsBecome(b, 'copy/app', { '1': two });

    // B recorded the pulls as its own events, by the mirror, once per tag→digest.
    const events = (await b.json<EventsReply>('GET', `/events?stream=${enc('repository-copy/app')}&limit=100`)).body.items;
    expect(events.map((e) => e.type)).toEqual(['RepositoryCreated', 'ImageTagged', 'ImageTagged', 'ImageTagged', 'ImageUntagged']);
    expect(new Set(events.map((e) => e.actor))).toEqual(new Set([`mirror-${id}`]));
    const images = (await b.json<EventsReply>('GET', `/events?category=image&limit=100`)).body.items;
    expect(images.filter((e) => e.type === 'ImageCreated').map((e) => (e.data as { origin: string }).origin)).toEqual(['pull', 'pull']);

    const listed = (await b.json<ListReply<MirrorView>>('GET', '/mirrors')).body.items;
    expect(listed).toEqual([expect.objectContaining({ id, runner: 'node-b', state: 'following', pulled: 3, untagged: 1, lastError: null })]); // SQLite: this node runs all its mirrors
    expect(JSON.stringify(listed)).not.toContain(secret);
    for (const f of readdirSync(b.dataDir).filter((f) => f.startsWith('strata.db'))) {
      expect([f, readFileSync(join(b.dataDir, f)).includes(secret)]).toEqual([f, false]);
    }

    // B stops; A tags meanwhile; B starts again on the same data and resumes from its stored position (no full sync).
    const dataDir = b.dataDir;
    await b.stop();
    const four = await importImage(a.url, ADMIN_TOKEN, 'mirror-four', 'team/app:4');
    b = await startTestNode({ nodeId: 'node-b', dataDir });
    await tagsBecome(b, 'copy/app', { '1': two, '4': four });
    const resumed = (await b.json<MirrorView>('GET', `/mirrors/${id}`)).body;
    expect(resumed).toMatchObject({ state: 'following', lastSyncAt: null, pulled: 1 });

    // Removed: a new tag on A no longer reaches B.
    expect((await b.json('DELETE', `/mirrors/${id}`)).status).toBe(200);
    expect((await b.json('GET', '/mirrors')).body.items).toEqual([]);
    expect((await b.json('DELETE', `/mirrors/${id}`)).body.code).toBe('MIRROR_NOT_FOUND');
    await importImage(a.url, ADMIN_TOKEN, 'mirror-three', 'team/app:3');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await tags(b, 'copy/app')).toEqual({ '1': two, '4': four });
    const mirrorEvents = (await b.json<EventsReply>('GET', `/events?category=mirror`)).body.items;
    expect(mirrorEvents.map((e) => [e.type, e.actor])).toEqual([
      ['MirrorAdded', 'admin'],
      ['MirrorRemoved', 'admin'],
    ]);
  }, 90_000);

  it('without access to the source events (no credentials, a public repository) it polls tags/list instead', async () => {
    const v1 = await importImage(a.url, ADMIN_TOKEN, 'public-one', 'pub/app:v1');
    expect((await a.json('PUT', `/repositories/${enc('pub/app')}/visibility`, { visibility: 'public' })).status).toBe(200);
    const added = await b.json<MirrorAddedReply>('POST', '/mirrors', { source: a.url, repository: 'pub/app' });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    await tagsBecome(b, 'pub/app', { v1 });
    const m = (await b.json<MirrorView>('GET', `/mirrors/${added.body.mirror.id}`)).body;
    expect(m).toMatchObject({ state: 'polling', hasCredentials: false });

    const v2 = await importImage(a.url, ADMIN_TOKEN, 'public-two', 'pub/app:v2');
    await tagsBecome(b, 'pub/app', { v1, v2 });
    expect((await a.json('DELETE', `/repositories/${enc('pub/app')}/tags/v1`)).status).toBe(200);
    await tagsBecome(b, 'pub/app', { v2 });
    expect((await b.json('DELETE', `/mirrors/${added.body.mirror.id}`)).status).toBe(200);
  }, 60_000);

  it('strata mirror add (token on stdin), ls, rm', async () => {
    const v = await importImage(a.url, ADMIN_TOKEN, 'cli-one', 'cli/app:v');
    const added = await strata(b, ['mirror', 'add', a.url, 'cli/app', 'cli/copy', '-u', 'mirror-b', '--password-stdin'], `${secret}\n`);
    expect(added.code, added.err).toBe(0);
    const id = added.out.trim();
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    await tagsBecome(b, 'cli/copy', { v });
    const ls = await strata(b, ['mirror', 'ls']);
    expect(ls.out).toMatch(new RegExp(`${id}\\s+${a.url.replace(/[.]/g, '\\.')}\\s+cli/app\\s+cli/copy\\s+following`));
    expect(ls.out).not.toContain(secret);
    const usage = await strata(b, ['mirror', 'add', a.url, 'x/y', '-u', 'mirror-b']);
    expect(usage.code).not.toBe(0);
    const rm = await strata(b, ['mirror', 'rm', id]);
    expect(rm.code, rm.err).toBe(0);
    expect(rm.out).toContain(`removed mirror ${id}`);
    expect((await strata(b, ['mirror', 'ls', '--json'])).out).toContain('"items": []');
  }, 60_000);

  it('refuses bad input; the credentials never reached the log and left with their mirror', async () => {
    for (const body of [
      { source: 'ftp://x', repository: 'a/b' },
      { source: 'http://user:pw@127.0.0.1:1', repository: 'a/b' },
      { source: a.url, repository: 'Not Valid' },
      { source: a.url, repository: 'a/b', credentials: { username: 'x' } },
    ]) {
      const r = await b.json('POST', '/mirrors', body);
      expect([JSON.stringify(body), r.status]).toEqual([JSON.stringify(body), 400]);
    }
    const file = join(b.dataDir, 'mirror-credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const logFiles = readdirSync(b.dataDir).filter((f) => f.startsWith('strata.db'));
    expect(logFiles.length).toBeGreaterThan(0);
    for (const f of logFiles) expect([f, readFileSync(join(b.dataDir, f)).includes(secret)]).toEqual([f, false]);
    const exported = (await b.json<EventsReply>('GET', '/events?limit=10000')).body;
    expect(JSON.stringify(exported)).not.toContain(secret);
    // Removed mirrors take their credentials with them.
    expect(readFileSync(join(b.dataDir, 'mirror-credentials.json'), 'utf8')).not.toContain(secret);
  });
});

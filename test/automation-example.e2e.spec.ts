import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerReply, ImageView } from '@strata/api';
import { startNatsServer, type NatsServerHandle } from '../libs/eventstore/src/testing/nats-server.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';
import { importBusybox } from './support/busybox.js';

const SCRIPT = join(import.meta.dirname, '../examples/commit-on-failure/commit-on-failure.mjs');

/** The example as a user runs it: a separate node process, plain nats.js, its JSON lines collected. */
function startScript(natsUrl: string, durable = 'commit-on-failure'): { child: ChildProcess; lines: Array<Record<string, any>>; stop(): Promise<void> } {
  const child = spawn(process.execPath, [SCRIPT], {
    env: { ...process.env, NATS_URL: natsUrl, STRATA_TOKEN: ADMIN_TOKEN, DURABLE: durable },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, any>> = [];
  let buffer = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      lines.push(JSON.parse(buffer.slice(0, i)));
      buffer = buffer.slice(i + 1);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => process.stderr.write(`[commit-on-failure] ${chunk}`));
  return {
    child,
    lines,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** examples/commit-on-failure against a real node on a real nats-server, with real runc containers. */
describe('the commit-on-failure automation example', () => {
  let server: NatsServerHandle;
  let t: TestNode;

  const run = async (name: string, script: string): Promise<string> => {
    const created = await t.json<ContainerReply>('POST', '/containers', { image: 'busybox', name, cmd: ['sh', '-c', script] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.container.id;
    expect((await t.json('POST', `/containers/${id}/start`)).status).toBe(200);
    await t.json('POST', `/containers/${id}/wait`);
    return id;
  };
  const forensicImages = async () =>
    ((await t.json<{ items: ImageView[] }>('GET', '/images')).body.items ?? []).filter((i) => i.tags.some((tag) => tag.startsWith('forensics:')));

  beforeAll(async () => {
    server = await startNatsServer();
    t = await startTestNode({ env: { STRATA_NATS_URL: server.url } });
    await importBusybox(t.url);
  });
  afterAll(async () => {
    await t?.stop();
    await server?.stop();
  });

  it('commits a failed container once, ignores a successful one, and resumes after a restart without acting twice', async () => {
    let script = startScript(server.url);
    await until('the script to be ready', () => script.lines.find((l) => l.msg === 'waiting for containers that fail'));

    const failed = await run('broken', 'echo evidence > /tmp/evidence; exit 3');
    await run('fine', 'echo fine > /tmp/fine; exit 0');
    const committed = await until('a forensic commit', () => script.lines.find((l) => l.msg === 'committed'));
    expect(committed).toMatchObject({ container: failed, exitCode: 3, duplicate: false });
    const images = await until('the forensic image', async () => ((await forensicImages()).length === 1 ? forensicImages() : undefined));
    expect(images[0]!.tags).toEqual([`forensics:${failed.slice(0, 12)}-exit-3`]);
    const evidence = await t.call('GET', `/images/${images[0]!.manifestDigest}/content?path=/tmp/evidence`);
    expect(await evidence.text()).toBe('evidence\n');

    // Down while a container fails; on restart it catches up on that exit and does not redo the first.
    await script.stop();
    const second = await run('broken-again', 'exit 7');
    script = startScript(server.url);
    const caughtUp = await until('the exit that happened while the script was down', () =>
      script.lines.find((l) => l.msg === 'committed' && l.container === second),
    );
    expect(caughtUp.exitCode).toBe(7);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // room for a wrong second action to show
    expect(script.lines.filter((l) => l.msg === 'committed' && l.container === failed)).toEqual([]);
    expect(await forensicImages()).toHaveLength(2);
    await script.stop();

    // A redelivery of everything (a new consumer from the start) sends the same commands again: the
    // Idempotency-Key derived from each event id answers them from the log; no third image appears.
    script = startScript(server.url, 'replay-everything');
    const replays = await until('both exits delivered again', () => {
      const done = script.lines.filter((l) => l.msg === 'committed');
      return done.length >= 2 ? done : undefined;
    });
    expect(replays.map((l) => [l.container, l.duplicate]).sort()).toEqual([[failed, true], [second, true]].sort());
    expect(await forensicImages()).toHaveLength(2);
    await script.stop();

    // The commits' events name the exits that caused them.
    const events = await t.json('GET', `/events?stream=container-${failed}&type=ContainerCommitted`);
    expect(events.body.items).toHaveLength(1);
    expect(events.body.items[0].causationId).toMatch(/./);
  });
});

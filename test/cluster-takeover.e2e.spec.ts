import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerView, ListReply } from '@strata/api';
import { startNatsCluster, type NatsClusterHandle } from '../libs/eventstore/src/testing/nats-cluster.js';
import { startChildNode, unmountUnder, type ChildNode } from './support/child-node.js';
import { startTestNode, type TestNode } from './support/test-node.js';
import { importBusybox } from './support/busybox.js';
import { until } from './support/until.js';

type Json = <T = any>(method: string, path: string, body?: unknown) => Promise<{ status: number; body: T }>;
interface EventItem {
  type: string;
  streamId: string;
  nodeId: string;
  position: number;
  data: any;
}

const RESCHEDULED_FROM = 'strata.rescheduled-from';
const CLUSTER_ENV = (url: string) => ({ STRATA_NATS_URL: url, STRATA_NATS_REPLICAS: '3', STRATA_HEARTBEAT_MS: '200', STRATA_NODE_TTL_MS: '1500', STRATA_CAPACITY: '1000' });

/** Kills what a crashed child node left running (its containers' processes) and unmounts its rootfs. */
function cleanUpAfterCrash(dataDir: string): void {
  const root = join(dataDir, 'runtime', '.runc');
  let ids: string[];
  try {
    ids = execFileSync('runc', ['--root', root, 'list', '-q'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    ids = [];
  }
  for (const id of ids) {
    try {
      execFileSync('runc', ['--root', root, 'delete', '--force', id], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // already gone
    }
  }
  unmountUnder(dataDir);
}

const events = async (json: Json, query: string) => (await json<{ items: EventItem[] }>('GET', `/events?${query}&limit=10000`)).body.items;

/**
 * A failover whose declarer dies half-way is finished by another node. Each case: node V runs three
 * containers (two with a restart policy), node D is the only other node, started with the test-only
 * hook STRATA_TEST_FAILOVER_CRASH_AFTER, so that when V is killed D declares it lost and SIGKILLs itself
 * at a chosen point of the failover. Then either a new node S joins (it declares D lost and takes the
 * failover over) or D itself restarts (it resumes its own). Either way: each stranded container exited
 * once, one running replacement per restartable one, the failover completed once, and every node
 * (V and D back again) on one checksum.
 */
describe('a failover whose declarer dies half-way', () => {
  let nats: NatsClusterHandle;
  let work: string;
  const children: Array<{ node: ChildNode; dir: string }> = [];
  const inProcess: TestNode[] = [];

  beforeAll(async () => {
    nats = await startNatsCluster({ size: 3 });
    work = mkdtempSync(join(tmpdir(), 'strata-takeover-'));
  }, 120_000);

  afterAll(async () => {
    for (const c of children) {
      await c.node.stop().catch(() => undefined);
      cleanUpAfterCrash(c.dir);
    }
    await Promise.all(inProcess.map((n) => n.stop().catch(() => undefined)));
    await nats?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 120_000);

  const child = async (id: string, extra: Record<string, string> = {}) => {
    const dir = join(work, id);
    const node = await startChildNode(dir, { ...CLUSTER_ENV(nats.urls), STRATA_NODE_ID: id, ...extra });
    children.push({ node, dir });
    return { node, dir };
  };

  async function scenario(name: string, crashAfter: 'exit' | 'remove' | 'create', finisher: 'takeover' | 'restart'): Promise<void> {
    try {
      await runScenario(name, crashAfter, finisher);
    } finally {
      // Stops, clean or not: the next case starts from nodes that left (or were lost, with nothing left to do).
      for (const c of children.splice(0)) {
        await c.node.stop().catch(() => undefined);
        cleanUpAfterCrash(c.dir);
      }
      await Promise.all(inProcess.splice(0).map((n) => n.stop().catch(() => undefined)));
    }
  }

  async function runScenario(name: string, crashAfter: 'exit' | 'remove' | 'create', finisher: 'takeover' | 'restart'): Promise<void> {
    const v = await child(`v-${name}`);
    const d = await child(`d-${name}`, { STRATA_TEST_FAILOVER_CRASH_AFTER: crashAfter });
    const [vId, dId, sId] = [`v-${name}`, `d-${name}`, `s-${name}`];
    await importBusybox(d.node.url);
    await until('both nodes ready', async () => {
      const items = (await d.node.json<ListReply<{ nodeId: string; status: string; alive: boolean }>>('GET', '/nodes')).body.items;
      return [vId, dId].every((id) => items.some((n) => n.nodeId === id && n.status === 'ready' && n.alive)) ? true : undefined;
    });

    const stranded: Record<string, ContainerView> = {};
    for (const [cName, restart] of [[`${name}-plain`, 'no'], [`${name}-web`, 'always'], [`${name}-worker`, 'on-failure']] as const) {
      const created = await d.node.json<{ container: ContainerView }>('POST', '/containers', { image: 'busybox', name: cName, cmd: ['sleep', '1000'], restart, node: vId });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect((await d.node.json('POST', `/containers/${cName}/start`)).status).toBe(200);
      stranded[cName] = created.body.container;
    }

    // V dies; D declares it lost, starts the failover and kills itself at the chosen step.
    await v.node.crash();
    cleanUpAfterCrash(v.dir);
    await until(`${dId} killed by its fault hook after "${crashAfter}"`, async () => (d.node.process.exitCode !== null || d.node.process.signalCode !== null ? true : undefined), 60_000);
    expect(d.node.process.signalCode).toBe('SIGKILL');
    cleanUpAfterCrash(d.dir);

    let finisherJson: Json;
    let finisherId: string;
    if (finisher === 'takeover') {
      const s = await startTestNode({ nodeId: sId, env: CLUSTER_ENV(nats.urls) });
      inProcess.push(s);
      finisherJson = s.json;
      finisherId = sId;
    } else {
      const again = await child(dId); // the same data dir, without the hook: the node restarting
      d.node = again.node;
      finisherJson = again.node.json;
      finisherId = dId;
    }

    const completed = await until('the failover completed', async () => {
      const items = await events(finisherJson, `stream=node-${vId}&type=NodeFailoverCompleted`);
      return items.length > 0 ? items : undefined;
    }, 90_000);
    expect(completed).toHaveLength(1);
    expect(completed[0]!.data.completedBy).toBe(finisherId);
    expect(completed[0]!.data.failed).toEqual([]);
    const started = await events(finisherJson, `stream=node-${vId}&type=NodeFailoverStarted`);
    expect(started).toHaveLength(1);
    expect(started[0]!.data.runner).toBe(dId);
    expect([...started[0]!.data.containers].sort()).toEqual(Object.values(stranded).map((c) => c.id).sort());
    const takenOver = await events(finisherJson, `stream=node-${vId}&type=NodeFailoverTakenOver`);
    expect(takenOver.map((e) => [e.data.from, e.data.by])).toEqual(finisher === 'takeover' ? [[dId, sId]] : []);

    // Each stranded container exited exactly once, with node-lost.
    for (const c of Object.values(stranded)) {
      const exits = await events(finisherJson, `stream=container-${c.id}&type=ContainerExited`);
      expect(exits.map((e) => e.data.reason)).toEqual(['node-lost']);
    }
    // One replacement per container replaced (never two of the same), and one running container per restartable name.
    const creations = (await events(finisherJson, 'category=container&type=ContainerCreated')).filter((e) => e.data.config.labels[RESCHEDULED_FROM]);
    const bySource = new Map<string, number>();
    for (const e of creations) bySource.set(e.data.config.labels[RESCHEDULED_FROM], (bySource.get(e.data.config.labels[RESCHEDULED_FROM]) ?? 0) + 1);
    for (const count of bySource.values()) expect(count).toBe(1);
    const all = (await finisherJson<ListReply<ContainerView>>('GET', '/containers?all=true')).body.items;
    expect(all.filter((c) => c.name === `${name}-plain`).map((c) => [c.id, c.status, c.exitReason])).toEqual([[stranded[`${name}-plain`]!.id, 'exited', 'node-lost']]);
    for (const cName of [`${name}-web`, `${name}-worker`]) {
      const live = await until(`${cName} running again`, async () => {
        const now = (await finisherJson<ListReply<ContainerView>>('GET', '/containers?all=true')).body.items.filter((c) => c.name === cName);
        return now.length === 1 && now[0]!.status === 'running' ? now[0]! : undefined;
      }, 30_000);
      expect(live.id).not.toBe(stranded[cName]!.id);
      // Its chain of rescheduled-from labels leads back to the stranded container.
      let from = live.config.labels[RESCHEDULED_FROM]!;
      while (from !== stranded[cName]!.id) {
        const hop = creations.find((e) => e.data.id === from);
        expect(hop, `replacement ${from} of ${cName}`).toBeDefined();
        from = hop!.data.config.labels[RESCHEDULED_FROM];
      }
      if (finisher === 'takeover') expect(live.nodeId).toBe(sId);
      else expect(live.nodeId).toBe(dId);
    }
    // Replacements made on D: with "create", D made the one of the container it was at on itself (the
    // only ready node then) before dying. Taken over, that one (never started) is removed and replaced on
    // S; D restarted starts it, and makes the other one too.
    const byD = creations.filter((e) => e.data.nodeId === dId);
    expect(byD).toHaveLength(finisher === 'restart' ? 2 : crashAfter === 'create' ? 1 : 0);
    for (const e of byD) {
      const removed = await events(finisherJson, `stream=container-${e.data.id}&type=ContainerRemoved`);
      expect(removed).toHaveLength(finisher === 'takeover' ? 1 : 0);
    }

    // V and D come back (without the hook): every node reaches one checksum.
    const v2 = await child(vId);
    const members: Json[] = [finisherJson, v2.node.json];
    if (finisher === 'takeover') members.push((await child(dId)).node.json);
    await until('every node at one position with one checksum', async () => {
      const h = Math.max(...(await Promise.all(members.map(async (m) => (await m('GET', '/healthz')).body.head as number))));
      const sums = await Promise.all(members.map(async (m) => (await m('GET', `/admin/checksum?minPosition=${h}`)).body));
      return sums.every((x) => x.position === h) && new Set(sums.map((x) => x.checksum)).size === 1 ? sums : undefined;
    });

    for (const cName of [`${name}-web`, `${name}-worker`]) expect((await finisherJson('DELETE', `/containers/${cName}?force=true`)).status).toBe(200);
  }

  it('killed after recording some exits but not the others: a new node takes it over', () => scenario('exit', 'exit', 'takeover'), 240_000);
  it('killed after RemoveContainer, before the replacement was created: a new node takes it over', () => scenario('remove', 'remove', 'takeover'), 240_000);
  it('killed after creating the replacement on itself, before starting it: the taker replaces that one too', () => scenario('create', 'create', 'takeover'), 240_000);
  it('killed after creating the replacement, then restarted: it finishes its own failover', () => scenario('restart', 'create', 'restart'), 240_000);
});

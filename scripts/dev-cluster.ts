// `npm run cluster [-- --dir .cluster] [--json]`: a Strata cluster on this machine, without Docker —
// three nats-servers with JetStream clustered by routes, and three Strata nodes on them (replicas 3),
// all on 127.0.0.1 free ports, each with its own directory under ./.cluster. The same topology as
// docker-compose.yml. Runs the built node (`npm run build` first). Ctrl-C (or SIGTERM) stops everything.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePorts, startNatsCluster, type NatsClusterHandle } from '../libs/eventstore/src/testing/nats-cluster.js';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/strata.js');
const NODE_MAIN = join(ROOT, 'dist/apps/strata/apps/strata/src/main.js');
const SIZE = 3;
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.cluster' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write('usage: npm run cluster [-- --dir DIR] [--json]\n  three nats-servers (JetStream, routes) and three Strata nodes on 127.0.0.1; Ctrl-C stops them\n');
  process.exit(0);
}
if (!existsSync(NODE_MAIN)) {
  process.stderr.write('strata is not built: run `npm run build` first, then `npm run cluster`\n');
  process.exit(1);
}

const dir = resolve(values.dir!);
const say = (line: string) => {
  if (!values.json) process.stdout.write(`${line}\n`);
};

interface Node {
  nodeId: string;
  url: string;
  port: number;
  dataDir: string;
  log: string;
  child: ChildProcess;
  token?: string;
}

let nats: NatsClusterHandle | undefined;
const nodes: Node[] = [];
let stopping: Promise<void> | undefined;

function stopAll(reason: string, code: number): Promise<void> {
  stopping ??= (async () => {
    say(`\nstopping (${reason})…`);
    await Promise.all(nodes.map((n) => stopChild(n.child)));
    await nats?.stop().catch((error: Error) => process.stderr.write(`stopping nats-servers: ${error.message}\n`));
    say('stopped');
    process.exit(code);
  })();
  return stopping;
}
process.once('SIGINT', () => void stopAll('SIGINT', 0));
process.once('SIGTERM', () => void stopAll('SIGTERM', 0));
process.once('SIGHUP', () => void stopAll('SIGHUP', 0));

try {
  await mkdir(dir, { recursive: true });
  say(`starting ${SIZE} nats-servers (JetStream cluster) in ${join(dir, 'nats')} …`);
  nats = await startNatsCluster({ size: SIZE, dir: join(dir, 'nats'), name: 'strata', logToFile: true, readyTimeoutMs: READY_TIMEOUT_MS });
  say(`JetStream meta leader: ${await nats.metaLeader()}`);

  const ports = await freePorts(SIZE);
  for (let i = 0; i < SIZE; i++) {
    const nodeId = `node-${i + 1}`;
    const dataDir = join(dir, nodeId);
    await mkdir(dataDir, { recursive: true });
    const port = ports[i]!;
    const log = join(dataDir, 'node.log');
    const out = createWriteStream(log, { flags: 'a' });
    const args = [BIN, 'serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--nats', nats.urls, '--nats-replicas', String(SIZE), '--node-id', nodeId];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STRATA_LOG_FORMAT: process.env.STRATA_LOG_FORMAT ?? 'json' } });
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    const node: Node = { nodeId, url: `http://127.0.0.1:${port}`, port, dataDir, log, child };
    child.once('exit', (code, signal) => {
      out.end();
      if (!stopping) process.stderr.write(`${nodeId} exited (code ${code}, signal ${signal}); its log: ${log}\n`);
    });
    nodes.push(node);
    say(`starting ${nodeId} on ${node.url} (log ${log}) …`);
    // The first node creates the R3 streams alone: nodes opening a just-created R3 stream at the same
    // moment time out on their first read (docs/DECISIONS.md, "A local cluster"); the others then start together.
    if (i === 0) await waitHealthy(node);
  }
  await Promise.all(nodes.map((n) => waitHealthy(n)));
  for (const n of nodes) n.token = readToken(n.dataDir);

  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({
        ready: true,
        dir,
        nats: { urls: nats.urls, servers: nats.servers.map((s) => ({ name: s.name, url: s.url, monitor: `http://127.0.0.1:${s.httpPort}`, pid: s.pid })) },
        nodes: nodes.map((n) => ({ nodeId: n.nodeId, url: n.url, token: n.token, dataDir: n.dataDir, pid: n.child.pid })),
      })}\n`,
    );
  } else {
    say('');
    say(`Strata cluster ready (${dir})`);
    say(`  NATS      ${nats.urls}`);
    for (const s of nats.servers) say(`  ${s.name.padEnd(9)} ${s.url}  monitor http://127.0.0.1:${s.httpPort}  log ${join(dir, 'nats', s.name, 'server.log')}`);
    for (const n of nodes) say(`  ${n.nodeId.padEnd(9)} ${n.url}  token ${n.token ?? '(see STRATA_ADMIN_TOKEN)'}`);
    say('');
    say(`  e.g.  STRATA_URL=${nodes[0]!.url} STRATA_TOKEN=${nodes[0]!.token ?? '…'} node bin/strata.js status`);
    say('Ctrl-C stops everything.');
  }
} catch (error) {
  process.stderr.write(`dev cluster failed to start: ${(error as Error).message}\n`);
  await stopAll('start failed', 1);
}

/** GET /healthz until it says ok on JetStream; bounded. A node that exits first fails the start. */
async function waitHealthy(node: Node): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (node.child.exitCode !== null || node.child.signalCode !== null) {
      throw new Error(`${node.nodeId} exited before it was ready; its log (${node.log}):\n${tail(node.log)}`);
    }
    try {
      const response = await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(2000) });
      const body = (await response.json()) as { status?: string; eventLog?: { backend?: string } };
      if (body.status === 'ok' && body.eventLog?.backend === 'jetstream') return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${node.nodeId} was not healthy within ${READY_TIMEOUT_MS} ms; its log (${node.log}):\n${tail(node.log)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function readToken(dataDir: string): string | undefined {
  const file = join(dataDir, 'admin.token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  return process.env.STRATA_ADMIN_TOKEN;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '';
  }
}

/** SIGTERM, SIGKILL after a grace period; resolves once the process is gone. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

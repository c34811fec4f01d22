/**
 * The supervisor of one container, like containerd-shim: a small detached Node process that runs
 * `runc run` in the foreground, so it alone waits for the container and sees its exit status, and
 * survives the node. It talks to the node only through files in the container's state directory:
 *   shim.json  { shimPid, startedAt }                         written at start
 *   log.ndjson { t, s: stdout|stderr, l } one line per line    appended while it runs
 *   exit.json  { exitCode, signal, oomKilled, finishedAt }     written (temp + rename) when it ends
 * It is plain JavaScript, written next to the state at start-up, so it runs the same from the sources
 * (tests) and from the build. OOM (cgroup v1): the kernel counts an OOM kill in the killed task's
 * cgroup, which runc removes right after; so the shim polls that counter, and also checks, after a
 * SIGKILL exit, whether our own parent cgroup (which holds the limit and outlives runc's) hit its limit
 * (`memory.failcnt` > 0): a process killed by SIGKILL at its memory limit was killed by the OOM killer.
 */
export const SHIM_SOURCE = String.raw`
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';

const opts = JSON.parse(process.argv[2]);
const log = createWriteStream(join(opts.stateDir, 'log.ndjson'), { flags: 'a' });
const write = (s, l) => log.write(JSON.stringify({ t: new Date().toISOString(), s, l }) + '\n');
const child = spawn(opts.runc, ['--root', opts.runcRoot, 'run', '--bundle', opts.bundle, opts.id], { stdio: ['ignore', 'pipe', 'pipe'] });
writeFileSync(join(opts.stateDir, 'shim.json'), JSON.stringify({ shimPid: process.pid, startedAt: new Date().toISOString() }));

let oomKills = 0;
const readOom = () => {
  try {
    const m = /oom_kill (\d+)/.exec(readFileSync('/sys/fs/cgroup/memory' + opts.cgroup + '/ctr/memory.oom_control', 'utf8'));
    if (m) oomKills = Math.max(oomKills, Number(m[1]));
  } catch {}
};
const poll = setInterval(readOom, 200);

let open = 2;
const ended = new Promise((resolve) => {
  const lines = (stream, name) => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      partial += chunk;
      let i;
      while ((i = partial.indexOf('\n')) >= 0) {
        write(name, partial.slice(0, i));
        partial = partial.slice(i + 1);
      }
    });
    stream.on('end', () => {
      readOom();
      if (partial) write(name, partial);
      if (--open === 0) resolve();
    });
  };
  lines(child.stdout, 'stdout');
  lines(child.stderr, 'stderr');
});

child.on('exit', async (code, signal) => {
  clearInterval(poll);
  await ended;
  const signals = Object.entries(constants.signals);
  const exitCode = code ?? 128 + (constants.signals[signal] ?? 0);
  const killedBy = exitCode > 128 ? (signals.find(([, n]) => n === exitCode - 128)?.[0] ?? null) : null;
  let limitHit = false;
  try {
    limitHit = exitCode === 137 && Number(readFileSync('/sys/fs/cgroup/memory' + opts.cgroup + '/memory.failcnt', 'utf8')) > 0;
  } catch {}
  const exit = { exitCode, signal: killedBy, oomKilled: oomKills > 0 || limitHit, finishedAt: new Date().toISOString() };
  log.end(() => {
    const file = join(opts.stateDir, 'exit.json');
    writeFileSync(file + '.tmp', JSON.stringify(exit));
    renameSync(file + '.tmp', file);
    process.exit(0);
  });
});
`;

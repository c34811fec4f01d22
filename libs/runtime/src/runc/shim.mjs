// The shim of one container, like containerd-shim: a small detached Node process that runs
// `runc run` in the foreground, so it alone sees the container's output and exit status, and it
// outlives the node that started it. Plain JavaScript on purpose: node runs it as it is, from the
// sources (tests) and from the build (nest-cli.json copies it next to the compiled runtime).
//
// It speaks to the node only through files in the container's state directory (see shim-files.ts):
//   shim.json      { shim: {pid, startTime}, runcPid, containerPid, startedAt, memoryCgroup }
//   log.ndjson     one { t, s: "stdout"|"stderr", l } per line of output, appended
//   exit.json      { exitCode, signal, oomKilled, finishedAt, reason, error }, written last
// Every JSON file but the log is written whole (temp file + rename): a reader never sees half of one.
//
// Usage: node shim.mjs '{"id":…,"stateDir":…,"bundle":…,"runc":…,"runcRoot":…}'
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';

const { id, stateDir, bundle, runc, runcRoot } = JSON.parse(process.argv[2]);
const file = (name) => join(stateDir, name);
const pidFile = file('container.pid');
const runcLog = file('runc.log');
/** A line longer than this is written as several records, so one endless line cannot exhaust the shim. */
const MAX_LINE = 64 * 1024;

// The shim lives exactly as long as its container: a signal meant for the node (or its terminal) is not for it.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGPIPE']) process.on(signal, () => {});

function writeJson(name, value) {
  const tmp = file(`.${name}.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(value)}\n`);
  renameSync(tmp, file(name));
}

/** A process's start time in clock ticks (field 22 of /proc/<pid>/stat): with the pid, it names the process even after pids wrap. */
function startTimeOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** The container's memory cgroup directory, read from the kernel rather than guessed (cgroupfs or systemd driver, v1 or v2). */
function memoryCgroupOf(pid) {
  try {
    const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
    const v1 = lines.find((line) => line.split(':')[1]?.split(',').includes('memory'));
    if (v1) return join('/sys/fs/cgroup/memory', v1.split(':').slice(2).join(':'));
    const v2 = lines.find((line) => line.startsWith('0::'));
    if (v2) return join('/sys/fs/cgroup', v2.slice(3));
  } catch {
    // the process is already gone: no OOM information
  }
  return null;
}

/**
 * How many processes of the container the kernel's OOM killer killed: the `oom_kill` counter of
 * cgroup v1's memory.oom_control or v2's memory.events. Kernels before 4.13 have no counter in v1:
 * then a limit that was hit (memory.failcnt > 0) counts. Read after runc exits but before
 * `runc delete` removes the cgroup (runc runs with --keep for exactly that).
 */
function oomKillsIn(dir) {
  if (!dir) return 0;
  const read = (name) => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch {
      return null;
    }
  };
  const counter = /^oom_kill (\d+)$/m.exec(read('memory.events') ?? read('memory.oom_control') ?? '');
  if (counter) return Number(counter[1]);
  return Number(read('memory.failcnt') ?? 0) > 0 ? 1 : 0;
}

function signalName(signo) {
  return Object.entries(constants.signals).find(([, n]) => n === signo)?.[0] ?? null;
}

/** runc's own last error (it logs JSON with --log-format json), without its "runc run failed: " preamble. */
function runcError() {
  try {
    const errors = readFileSync(runcLog, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line)).filter((entry) => entry.level === 'error');
    return errors.at(-1)?.msg?.replace(/^runc run failed: /, '') ?? null;
  } catch {
    return null;
  }
}

/** Docker's exit codes for a process that never ran: 127 not found, 126 not executable, 128 anything else. */
function startFailureCode(message) {
  if (/executable file not found|no such file or directory/i.test(message)) return 127;
  if (/permission denied/i.test(message)) return 126;
  return 128;
}

const shim = { pid: process.pid, startTime: startTimeOf(process.pid) };
rmSync(pidFile, { force: true });
rmSync(runcLog, { force: true });
writeJson('shim.json', { shim, runcPid: null, containerPid: null, startedAt: null, memoryCgroup: null });

const log = openSync(file('log.ndjson'), 'a');
/** Set once runc wrote the container's pid: before that, anything on the pipes is runc's own complaint. */
let started = null;
const beforeStart = [];

function record(stream, bytes) {
  const entry = `${JSON.stringify({ t: new Date().toISOString(), s: stream, l: bytes.toString('utf8') })}\n`;
  if (started) writeSync(log, entry);
  else beforeStart.push({ text: bytes.toString('utf8'), entry });
}

function lines(stream, name) {
  let rest = Buffer.alloc(0);
  stream.on('data', (chunk) => {
    const buffer = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let from = 0;
    for (let nl = buffer.indexOf(10, from); nl !== -1; nl = buffer.indexOf(10, from)) {
      record(name, buffer.subarray(from, nl));
      from = nl + 1;
    }
    for (; buffer.length - from >= MAX_LINE; from += MAX_LINE) record(name, buffer.subarray(from, from + MAX_LINE));
    rest = Buffer.from(buffer.subarray(from));
  });
  return () => {
    if (rest.length > 0) record(name, rest);
    rest = Buffer.alloc(0);
  };
}

const child = spawn(runc, ['--root', runcRoot, '--log', runcLog, '--log-format', 'json', 'run', '--keep', '--bundle', bundle, '--pid-file', pidFile, id], {
  cwd: bundle,
  stdio: ['ignore', 'pipe', 'pipe'],
});
const flushStdout = lines(child.stdout, 'stdout');
const flushStderr = lines(child.stderr, 'stderr');

/** runc writes the pid file (atomically) once the container exists, before its program runs. */
function checkStarted() {
  if (started) return true;
  let pid;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return false;
  }
  if (!(pid > 0)) return false;
  started = { containerPid: pid, startedAt: new Date().toISOString(), memoryCgroup: memoryCgroupOf(pid) };
  writeJson('shim.json', { shim, runcPid: child.pid, ...started });
  for (const { entry } of beforeStart.splice(0)) writeSync(log, entry);
  return true;
}
const poll = setInterval(checkStarted, 10);

let finishedAt = null;
child.on('exit', () => {
  finishedAt = new Date().toISOString();
});
child.on('error', (error) => {
  // runc could not be run at all (the node checked it exists; it may have gone since)
  clearInterval(poll);
  finish({ exitCode: 128, signal: null, oomKilled: false, finishedAt: new Date().toISOString(), reason: 'error', error: `cannot run runc: ${error.message}` });
});

// 'close' comes after the exit and after both pipes ended, so every line is in by then.
child.on('close', (code, runcSignal) => {
  clearInterval(poll);
  const didStart = checkStarted();
  flushStdout();
  flushStderr();
  const at = finishedAt ?? new Date().toISOString();
  if (!didStart) {
    const said = beforeStart.map((r) => r.text).join('\n').trim();
    const error = runcError() ?? (said || `runc exited with ${code ?? runcSignal} before the container started`);
    return finish({ exitCode: startFailureCode(error), signal: null, oomKilled: false, finishedAt: at, reason: 'error', error });
  }
  if (code === null) {
    // runc itself was killed: the container may run on unsupervised. End it, so exit.json keeps meaning "gone".
    spawnSync(runc, ['--root', runcRoot, 'kill', id, 'KILL'], { stdio: 'ignore', timeout: 10_000 });
    return finish({ exitCode: 137, signal: 'SIGKILL', oomKilled: false, finishedAt: at, reason: 'error', error: `runc was killed by ${runcSignal}; the container was killed` });
  }
  // runc reports a process killed by signal n as 128 + n (like a shell): the only way to tell.
  const signal = code > 128 ? signalName(code - 128) : null;
  const oomKilled = oomKillsIn(started.memoryCgroup) > 0;
  const reason = oomKilled && signal === 'SIGKILL' ? 'oom' : signal ? 'killed' : 'completed';
  finish({ exitCode: code, signal, oomKilled, finishedAt: at, reason, error: null });
});

let finished = false;
function finish(status) {
  if (finished) return;
  finished = true;
  // runc forgets the container before exit.json appears: once a node sees the exit, the id is free to start again.
  spawnSync(runc, ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore', timeout: 30_000 });
  closeSync(log);
  if (existsSync(stateDir)) writeJson('exit.json', status);
  process.exit(0);
}

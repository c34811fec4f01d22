/** Where the container's own command begins in `run`, `create` and `exec` lines (Docker's rule). */
import { describe, expect, it } from 'vitest';
import { buildProgram } from './cli.js';
import { captureIo } from './testing/fake-node.js';
import { protectTrailingCommand } from './trailing-command.js';

const program = buildProgram(captureIo({}).io);
const split = (line: string[]) => protectTrailingCommand(program, line);

describe('protectTrailingCommand', () => {
  it('puts -- right after the image of run and create, after their options and their values', () => {
    expect(split(['run', 'busybox', 'sh', '-c', 'ls -l'])).toEqual(['run', 'busybox', '--', 'sh', '-c', 'ls -l']);
    expect(split(['run', '-d', '--name', 'web', '-e', 'A=1', 'busybox', 'env', '--json'])).toEqual([
      'run', '-d', '--name', 'web', '-e', 'A=1', 'busybox', '--', 'env', '--json',
    ]);
    expect(split(['--json', 'create', '--label=a=b', '-eK=V', '-w', '/srv', 'app:1'])).toEqual([
      '--json', 'create', '--label=a=b', '-eK=V', '-w', '/srv', 'app:1', '--',
    ]);
    // A global option with a value before the command, and one after it.
    expect(split(['--url', 'http://x:1', 'run', '--token', 't', 'busybox', 'true'])).toEqual([
      '--url', 'http://x:1', 'run', '--token', 't', 'busybox', '--', 'true',
    ]);
  });

  it('under `container`, and for exec after the container', () => {
    expect(split(['container', 'run', 'busybox', 'ls', '-la'])).toEqual(['container', 'run', 'busybox', '--', 'ls', '-la']);
    expect(split(['exec', '-u', 'nobody', 'web', 'id', '-u'])).toEqual(['exec', '-u', 'nobody', 'web', '--', 'id', '-u']);
    expect(split(['container', 'exec', 'web', 'ps'])).toEqual(['container', 'exec', 'web', '--', 'ps']);
  });

  it('leaves every other line alone, and a -- the user wrote', () => {
    for (const line of [
      ['repo', 'ls', '--json'],
      ['ps', '-a', '--filter', 'status=exited'],
      ['logs', '-f', 'web'],
      ['run', '--', 'busybox', 'ls'],
      ['run', 'busybox', '--', 'ls', '-l'],
      ['image', 'inspect', 'busybox'],
      ['help', 'run'],
    ]) {
      expect(split(line)).toEqual(line);
    }
  });
});

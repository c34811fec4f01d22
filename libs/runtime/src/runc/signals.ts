import { constants } from 'node:os';
import { RuntimeError } from './runtime-error.js';

const BY_NAME = constants.signals as Record<string, number>;

/** `TERM`, `SIGTERM`, `term` or `15` → `SIGTERM`; anything else is refused before it reaches runc. */
export function normalizeSignal(signal: string): string {
  const raw = signal.trim().toUpperCase();
  if (/^\d+$/.test(raw)) {
    const name = signalName(Number(raw));
    if (name) return name;
  } else {
    const name = raw.startsWith('SIG') ? raw : `SIG${raw}`;
    if (BY_NAME[name] !== undefined) return name;
  }
  throw new RuntimeError('INVALID_SIGNAL', `unknown signal ${JSON.stringify(signal)}: use a name like TERM, KILL, HUP or a number`);
}

/** The POSIX name of a signal number (the first of its aliases: SIGABRT, not SIGIOT), or null. */
export function signalName(signo: number): string | null {
  for (const [name, n] of Object.entries(BY_NAME)) if (n === signo) return name;
  return null;
}

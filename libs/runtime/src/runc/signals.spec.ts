import { describe, expect, it } from 'vitest';
import { normalizeSignal, signalName } from './signals.js';

describe('signals', () => {
  it('accepts TERM, SIGTERM, term and 15 alike, and refuses the rest', () => {
    for (const s of ['TERM', 'SIGTERM', 'term', '15']) expect(normalizeSignal(s)).toBe('SIGTERM');
    expect(normalizeSignal('HUP')).toBe('SIGHUP');
    for (const bad of ['NOPE', '999', '', 'TERM; rm -rf /']) expect(() => normalizeSignal(bad)).toThrow(/unknown signal/);
  });

  it('names signal numbers by their first alias', () => {
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(6)).toBe('SIGABRT');
    expect(signalName(200)).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { parseProcessTable } from './process-table.js';

describe('parseProcessTable (runc ps)', () => {
  it('splits by the header, the last column keeping its spaces', () => {
    const text = 'UID        PID  PPID  C STIME TTY          TIME CMD\nroot     32128 32117  1 05:21 ?        00:00:00 sh -c sleep 1; echo "a  b"\n';
    expect(parseProcessTable(text)).toEqual({
      titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
      processes: [['root', '32128', '32117', '1', '05:21', '?', '00:00:00', 'sh -c sleep 1; echo "a b"']],
    });
    expect(parseProcessTable('')).toEqual({ titles: [], processes: [] });
  });
});

import { describe, expect, it } from 'vitest';
import { RuncRuntime } from './runc-runtime.js';

describe('RuncRuntime.available', () => {
  it('says what to install when runc is missing (the node then answers start with that, and serves the rest)', async () => {
    const runtime = new RuncRuntime({ root: '/nonexistent-strata-state', runc: '/nonexistent/runc' });
    expect(await runtime.available()).toEqual({ ok: false, reason: 'runc is not installed: apt-get install runc' });
  });

  it('is available here, where the tests run as root with Debian’s runc', async () => {
    expect(await new RuncRuntime({ root: '/nonexistent-strata-state' }).available()).toEqual({ ok: true });
  });
});

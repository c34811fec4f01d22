import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerReply } from '@strata/api';
import { containerIdFor } from '../apps/strata/src/containers/containers.service.js';
import { containerNameFor } from '../apps/strata/src/containers/names-generator.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';
import { importImage } from './support/images.js';

/**
 * A container created without a name gets one drawn from its id, which is derived from the create's
 * Idempotency-Key: every run of the same create draws the same name (a retry after a crash between the
 * name's reservation and the container's creation finds its own reservation), and a name another
 * container holds moves the draw on to the next candidate.
 */
describe('names of containers created without one', () => {
  let t: TestNode;
  const create = (body: Record<string, unknown>, key: string) => t.json<ContainerReply>('POST', '/containers', body, { 'idempotency-key': key });

  beforeAll(async () => {
    t = await startTestNode();
    await importImage(t.url, ADMIN_TOKEN, 'names', 'one:latest');
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('draws the name from the create, so a retry gets the same container and name', async () => {
    const key = `names-retry-${Date.now()}`;
    const first = await create({ image: 'one', cmd: ['/bin/true'] }, key);
    expect(first.status).toBe(201);
    const id = containerIdFor(key);
    expect(first.body.container).toMatchObject({ id, name: containerNameFor(id) });
    const again = await create({ image: 'one', cmd: ['/bin/true'] }, key);
    expect(again.body.container).toMatchObject({ id, name: containerNameFor(id) });
    expect((await t.json<{ items: unknown[] }>('GET', '/containers?all=true')).body.items.filter((c: any) => c.name === containerNameFor(id))).toHaveLength(1);
  });

  it('draws the next candidate when another container holds the name, on every run alike', async () => {
    const key = `names-taken-${Date.now()}`;
    const id = containerIdFor(key);
    const taken = await create({ image: 'one', cmd: ['/bin/true'], name: containerNameFor(id, 0) }, `${key}-holder`);
    expect(taken.status).toBe(201);
    const drawn = await create({ image: 'one', cmd: ['/bin/true'] }, key);
    expect(drawn.status).toBe(201);
    expect(drawn.body.container).toMatchObject({ id, name: containerNameFor(id, 1) });
    const again = await create({ image: 'one', cmd: ['/bin/true'] }, key);
    expect(again.body.container).toMatchObject({ id, name: containerNameFor(id, 1) });
    // a name given and taken is still refused, not replaced
    const refused = await create({ image: 'one', cmd: ['/bin/true'], name: containerNameFor(id, 1) }, `${key}-named`);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'CONTAINER_NAME_IN_USE' });
  });
});

import { describe, expect, it } from 'vitest';
import { codeOf } from '../testing/error-code.js';
import { fold } from '../shared/decider.js';
import { UpcasterChain } from '../shared/upcasting.js';
import type { RepositoryCommand } from './commands.js';
import { repositoryDecider } from './decider.js';
import type { RepositoryEvent } from './events.js';
import { assertRepositoryName, parseRepoTag } from './names.js';
import { repositoryUpcasters } from './upcasters.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

/** Runs commands in order, each against the state the previous events made: the aggregate's life. */
function run(...commands: RepositoryCommand[]): RepositoryEvent[] {
  const events: RepositoryEvent[] = [];
  for (const c of commands) events.push(...repositoryDecider.decide(c, fold(repositoryDecider, events)));
  return events;
}

describe('repository names', () => {
  it.each(['app', 'library/nginx', 'a.b_c__d-e--f/x9', 'a'.repeat(255)])('accepts %s', (n) => expect(assertRepositoryName(n)).toBe(n));
  it.each(['', 'App', 'a//b', '/a', 'a/', '-a', 'a-', 'a..b', 'a___b', 'a b', 'a'.repeat(256), 'registry.io:5000/app'])(
    'refuses %j',
    (n) => expect(codeOf(() => assertRepositoryName(n))).toBe('INVALID_REPOSITORY_NAME'),
  );
  it('splits repo:tag, defaulting to latest, and keeps a registry port in the name', () => {
    expect(parseRepoTag('a/b:v1')).toEqual({ name: 'a/b', tag: 'v1' });
    expect(parseRepoTag('a/b')).toEqual({ name: 'a/b', tag: 'latest' });
    expect(parseRepoTag('host:5000/a')).toEqual({ name: 'host:5000/a', tag: 'latest' });
  });
});

describe('repository decider', () => {
  it('creates, tags, moves (recording the previous target), untags, changes visibility and deletes', () => {
    const events = run(
      { type: 'CreateRepository', name: 'app', visibility: 'public' },
      { type: 'TagImage', name: 'app', tag: 'latest', digest: D1 },
      { type: 'TagImage', name: 'app', tag: 'latest', digest: D2 },
      { type: 'UntagImage', name: 'app', tag: 'latest' },
      { type: 'SetRepositoryVisibility', name: 'app', visibility: 'private' },
      { type: 'DeleteRepository', name: 'app' },
    );
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ['RepositoryCreated', { name: 'app', visibility: 'public' }],
      ['ImageTagged', { name: 'app', tag: 'latest', digest: D1, previousDigest: null }],
      ['ImageTagged', { name: 'app', tag: 'latest', digest: D2, previousDigest: D1 }],
      ['ImageUntagged', { name: 'app', tag: 'latest', previousDigest: D2 }],
      ['RepositoryVisibilityChanged', { name: 'app', visibility: 'private', previousVisibility: 'public' }],
      ['RepositoryDeleted', { name: 'app', tags: {} }],
    ]);
  });

  it('tagging into a missing repository creates it private, in the same decision', () => {
    expect(run({ type: 'TagImage', name: 'new', tag: 'v1', digest: D1 }).map((e) => e.type)).toEqual(['RepositoryCreated', 'ImageTagged']);
    expect(run({ type: 'TagImage', name: 'new', tag: 'v1', digest: D1 })[0].data).toEqual({ name: 'new', visibility: 'private' });
  });

  it('changes nothing when the tag already points there or the visibility is already set', () => {
    const events = run({ type: 'CreateRepository', name: 'app', visibility: 'public' }, { type: 'TagImage', name: 'app', tag: 'x', digest: D1 });
    const state = fold(repositoryDecider, events);
    expect(repositoryDecider.decide({ type: 'TagImage', name: 'app', tag: 'x', digest: D1 }, state)).toEqual([]);
    expect(repositoryDecider.decide({ type: 'SetRepositoryVisibility', name: 'app', visibility: 'public' }, state)).toEqual([]);
  });

  it('refuses what Docker refuses, with stable codes', () => {
    const created = fold(repositoryDecider, run({ type: 'CreateRepository', name: 'app', visibility: 'public' }, { type: 'TagImage', name: 'app', tag: 'x', digest: D1 }));
    const none = repositoryDecider.initialState();
    const cases: Array<[RepositoryCommand, typeof none, string]> = [
      [{ type: 'CreateRepository', name: 'app', visibility: 'public' }, created, 'REPOSITORY_EXISTS'],
      [{ type: 'CreateRepository', name: 'app', visibility: 'secret' as never }, none, 'INVALID_VISIBILITY'],
      [{ type: 'TagImage', name: 'app', tag: '.bad', digest: D1 }, created, 'INVALID_TAG'],
      [{ type: 'TagImage', name: 'app', tag: 'ok', digest: 'sha256:abc' }, created, 'INVALID_DIGEST'],
      [{ type: 'TagImage', name: 'app', tag: 'ok', digest: D1.toUpperCase() }, created, 'INVALID_DIGEST'],
      [{ type: 'UntagImage', name: 'app', tag: 'missing' }, created, 'TAG_NOT_FOUND'],
      [{ type: 'UntagImage', name: 'app', tag: 'x' }, none, 'REPOSITORY_NOT_FOUND'],
      [{ type: 'SetRepositoryVisibility', name: 'app', visibility: 'public' }, none, 'REPOSITORY_NOT_FOUND'],
      [{ type: 'DeleteRepository', name: 'app' }, created, 'REPOSITORY_NOT_EMPTY'],
      [{ type: 'DeleteRepository', name: 'app' }, none, 'REPOSITORY_NOT_FOUND'],
    ];
    for (const [command, state, code] of cases) expect([command.type, codeOf(() => repositoryDecider.decide(command, state))]).toEqual([command.type, code]);
  });

  it('a deleted repository can be created again and starts with no tags', () => {
    const events = run(
      { type: 'CreateRepository', name: 'app', visibility: 'public' },
      { type: 'TagImage', name: 'app', tag: 'x', digest: D1 },
      { type: 'DeleteRepository', name: 'app', force: true },
      { type: 'CreateRepository', name: 'app', visibility: 'private' },
    );
    expect(events[2].data).toEqual({ name: 'app', tags: { x: D1 } });
    expect(fold(repositoryDecider, events)).toEqual({ status: 'active', name: 'app', visibility: 'private', tags: {} });
  });
});

describe('upcasting', () => {
  it('reads RepositoryCreated v1 {isPublic} as v2 {visibility}', () => {
    const chain = new UpcasterChain(repositoryUpcasters);
    const v1 = {
      eventId: 'e', type: 'RepositoryCreated', schemaVersion: 1, streamId: 'repository-a', version: 1, position: 1,
      occurredAt: '2026-01-01T00:00:00.000Z', actor: 'a', commandId: 'c', correlationId: 'c', causationId: null, nodeId: 'n',
      data: { name: 'a', isPublic: true },
    };
    expect(chain.upcast(v1)).toMatchObject({ schemaVersion: 2, data: { name: 'a', visibility: 'public' } });
    const v2 = { ...v1, schemaVersion: 2, data: { name: 'a', visibility: 'private' } };
    expect(chain.upcast(v2)).toBe(v2);
  });
});

import { describe, expect, it } from 'vitest';
import { fold } from '../shared/decider.js';
import { codeOf } from '../testing/error-code.js';
import { mirrorDecider, normalizeMirrorSource } from './decider.js';
import type { MirrorEvent } from './events.js';

const add = { type: 'AddMirror', id: 'm1', source: 'http://127.0.0.1:7070/', repository: 'team/app', localRepository: 'copy/app' } as const;

describe('mirror decider', () => {
  it('adds (source normalised) and removes', () => {
    const added = mirrorDecider.decide(add, mirrorDecider.initialState());
    expect(added).toEqual([{ type: 'MirrorAdded', schemaVersion: 1, data: { id: 'm1', source: 'http://127.0.0.1:7070', repository: 'team/app', localRepository: 'copy/app' } }]);
    const removed = mirrorDecider.decide({ type: 'RemoveMirror', id: 'm1' }, fold(mirrorDecider, added as MirrorEvent[]));
    expect(removed).toEqual([{ type: 'MirrorRemoved', schemaVersion: 1, data: { id: 'm1' } }]);
  });

  it('refuses with stable codes', () => {
    const active = fold(mirrorDecider, mirrorDecider.decide(add, mirrorDecider.initialState()));
    const none = mirrorDecider.initialState();
    expect(codeOf(() => mirrorDecider.decide(add, active))).toBe('MIRROR_EXISTS');
    expect(codeOf(() => mirrorDecider.decide({ type: 'RemoveMirror', id: 'm1' }, none))).toBe('MIRROR_NOT_FOUND');
    expect(codeOf(() => mirrorDecider.decide({ ...add, repository: 'Bad Name' }, none))).toBe('INVALID_REPOSITORY_NAME');
    expect(codeOf(() => mirrorDecider.decide({ ...add, id: 'Bad Id' }, none))).toBe('INVALID_MIRROR_ID');
    for (const bad of ['ftp://x', 'http://u:p@host:1', 'http://host/path', 'not a url', 'http://h?x=1']) {
      expect([bad, codeOf(() => normalizeMirrorSource(bad))]).toEqual([bad, 'INVALID_MIRROR_SOURCE']);
    }
  });
});

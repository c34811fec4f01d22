import { describe, expect, it } from 'vitest';
import { eventIdFor } from './envelope-factory.js';

describe('eventIdFor', () => {
  it('derives the same ids as it always has (a command retried across an upgrade proposes the same events)', () => {
    // Pinned from the createHash implementation these ids were first made with; one per variant digit.
    const pinned: Array<[string, number, string]> = [
      ['cmd-0', 0, '06710054-d575-57f9-b688-f292c459632c'],
      ['cmd-1', 0, 'bc416200-c235-5570-a6ca-af5da8d612e3'],
      ['cmd-3', 0, 'c9237b6b-a9ab-566a-9d1d-fb3da6b7e57b'],
      ['cmd-5', 0, '0d4fb84b-30c8-58ca-813f-c82fb7502e29'],
      ['0f9c2b1e-7d1a-4c3b-9a55-0123456789ab', 1, '30deebf1-1b61-579f-9053-0cea0f683e47'],
      ['saga/step-2', 7, 'fda90743-c0d1-59fb-9803-18c79f2a3d5a'],
    ];
    for (const [commandId, index, id] of pinned) expect(eventIdFor(commandId, index)).toBe(id);
  });
});

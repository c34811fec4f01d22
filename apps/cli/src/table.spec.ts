import { describe, expect, it } from 'vitest';
import { csvLine, formatFields, formatSeconds, formatTable, shortDigest } from './table.js';

describe('formatTable', () => {
  it('pads columns to the widest cell, right-aligns numbers, leaves no trailing blanks', () => {
    const text = formatTable(
      ['NAME', 'VISIBILITY', 'TAGS'],
      [
        ['app', 'private', 3],
        ['library/nginx', 'public', 12],
      ],
    );
    expect(text.split('\n')).toEqual([
      'NAME            VISIBILITY   TAGS',
      'app             private         3',
      'library/nginx   public         12',
    ]);
    for (const line of text.split('\n')) expect(line).toBe(line.trimEnd());
  });

  it('shows missing cells as "-" and an empty table as its header', () => {
    expect(formatTable(['TAG', 'FROM', 'TO'], [['latest', null, 'x']])).toBe('TAG      FROM   TO\nlatest   -      x');
    expect(formatTable(['NAME', 'TAGS'], [])).toBe('NAME   TAGS');
  });

  it('left-aligns a column that mixes numbers and text', () => {
    expect(formatTable(['A', 'B'], [[1, 'x'], ['two', 'y']])).toBe('A     B\n1     x\ntwo   y');
  });
});

describe('formatFields', () => {
  it('aligns values after the longest key', () => {
    expect(formatFields([['node', 'n1'], ['data dir', '/d'], ['head', 0]])).toBe('node       n1\ndata dir   /d\nhead       0');
  });
});

describe('shortDigest', () => {
  it('shortens sha256 digests to 12 hex characters', () => {
    expect(shortDigest(`sha256:0123456789ab${'c'.repeat(52)}`)).toBe('0123456789ab');
  });
  it('shows null as "-" and anything else unchanged', () => {
    expect(shortDigest(null)).toBe('-');
    expect(shortDigest('sha512:abc')).toBe('sha512:abc');
  });
});

describe('csvLine', () => {
  it('quotes only fields that need it and JSON-encodes objects', () => {
    expect(csvLine([1, 'plain', 'a,b', 'say "hi"', 'two\nlines', null, { k: 'v' }])).toBe(
      '1,plain,"a,b","say ""hi""","two\nlines",,"{""k"":""v""}"',
    );
  });
});

describe('formatSeconds', () => {
  it.each([
    [0, '0s'],
    [59.9, '59s'],
    [125, '2m 5s'],
    [3725, '1h 2m'],
    [90_061, '1d 1h 1m'],
  ])('%d s is %s', (s, text) => expect(formatSeconds(s)).toBe(text));
});

import { describe, expect, it } from 'vitest';
import { globToRegExp, isIgnored, parseDockerignore } from './dockerignore.js';

describe('.dockerignore', () => {
  const rules = parseDockerignore(['# comment', 'node_modules', '*.log', '!keep.log', '**/tmp', '/secret/*', 'docs/**/*.md'].join('\n'));
  it.each([
    ['node_modules', true], ['node_modules/a/b.js', true], ['src/node_modules', false], ['a.log', true], ['keep.log', false], ['src/a.log', false],
    ['tmp', true], ['a/b/tmp/c', true], ['secret/key', true], ['secret', false], ['docs/x/y/z.md', true], ['docs/a.md', true], ['src/index.js', false],
  ])('%s ignored: %s', (path, ignored) => {
    expect(isIgnored(path, rules)).toBe(ignored);
  });
  it('globs within a component, ** across them', () => {
    expect(globToRegExp('a/*.txt').test('a/b.txt')).toBe(true);
    expect(globToRegExp('a/*.txt').test('a/b/c.txt')).toBe(false);
    expect(globToRegExp('a/[bc]?').test('a/cx')).toBe(true);
  });
});

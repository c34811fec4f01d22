import type { DomainError } from '../shared/errors.js';

/** For specs: the DomainError code `f` throws, or 'no error'. */
export function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as DomainError).code;
  }
  return 'no error';
}

import { invalid } from '../shared/errors.js';

// Docker's reference grammar (distribution/reference): a name is path components joined by '/',
// each component lowercase alphanumerics separated by '.', '_', '__' or runs of '-'.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const MAX_NAME = 255;

export type Visibility = 'public' | 'private';
export const VISIBILITIES: readonly Visibility[] = ['public', 'private'];

export function assertRepositoryName(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid('INVALID_REPOSITORY_NAME', 'repository name is required');
  }
  if (value.length > MAX_NAME) {
    throw invalid('INVALID_REPOSITORY_NAME', `repository name is longer than ${MAX_NAME} characters`, { name: value });
  }
  const bad = value.split('/').find((c) => !COMPONENT.test(c));
  if (bad !== undefined) {
    throw invalid(
      'INVALID_REPOSITORY_NAME',
      `invalid repository name "${value}": each '/'-separated part must be lowercase letters and digits, ` +
        `separated by '.', '_', '__' or '-' (like Docker's), e.g. "library/nginx"`,
      { name: value, component: bad },
    );
  }
  return value;
}

export function assertTag(value: unknown): string {
  if (typeof value !== 'string' || !TAG.test(value)) {
    throw invalid(
      'INVALID_TAG',
      `invalid tag ${JSON.stringify(value)}: up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'`,
      { tag: value },
    );
  }
  return value;
}

export function assertVisibility(value: unknown): Visibility {
  if (value !== 'public' && value !== 'private') {
    throw invalid('INVALID_VISIBILITY', `visibility must be "public" or "private", got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Splits `repo:tag` (the tag after the last ':' that follows the last '/'); the tag defaults to `latest`. */
export function parseRepoTag(ref: string): { name: string; tag: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { name: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { name: ref, tag: 'latest' };
}

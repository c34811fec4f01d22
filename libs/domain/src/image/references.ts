import { invalid } from '../shared/errors.js';
import { assertRepositoryName, assertTag, parseRepoTag } from '../repository/names.js';

const FULL_DIGEST = /^sha256:[a-f0-9]{64}$/;
const HEX_PREFIX = /^(?:sha256:)?[a-f0-9]{4,64}$/;

/**
 * What a user may call an image, as Docker accepts it:
 * - `repo[:tag]` (tag defaults to latest) → `{ kind: 'tag' }`
 * - `repo@sha256:…` → `{ kind: 'digest', repository }` (a manifest digest in that repository)
 * - `sha256:<64 hex>` → `{ kind: 'digest' }` (a manifest digest) or the image id — resolution tries both
 * - a hex prefix of at least 4 digits, with or without `sha256:` → `{ kind: 'id-prefix' }` (like `docker rmi 3f5a`)
 */
export type ImageReference =
  | { kind: 'tag'; repository: string; tag: string }
  | { kind: 'digest'; digest: string; repository?: string }
  | { kind: 'id-prefix'; prefix: string };

export function parseImageReference(value: unknown): ImageReference {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid('INVALID_IMAGE_REFERENCE', 'an image reference is required: "repo:tag", "repo@sha256:…" or an image id');
  }
  const at = value.indexOf('@');
  if (at >= 0) {
    const repository = assertRepositoryName(value.slice(0, at));
    const digest = value.slice(at + 1);
    if (!FULL_DIGEST.test(digest)) {
      throw invalid('INVALID_IMAGE_REFERENCE', `"${value}": the part after "@" must be sha256: and 64 hex digits`, { reference: value });
    }
    return { kind: 'digest', digest, repository };
  }
  if (FULL_DIGEST.test(value)) return { kind: 'digest', digest: value };
  // A bare hex string could also be a repository name ("cafe"); Docker prefers the id when one matches,
  // so resolution tries the id prefix first and the tag second.
  if (HEX_PREFIX.test(value) && (value.startsWith('sha256:') || value.length >= 12)) {
    return { kind: 'id-prefix', prefix: value.replace(/^sha256:/, '') };
  }
  const { name, tag } = parseRepoTag(value);
  try {
    return { kind: 'tag', repository: assertRepositoryName(name), tag: assertTag(tag) };
  } catch (error) {
    if (HEX_PREFIX.test(value)) return { kind: 'id-prefix', prefix: value };
    throw error;
  }
}

export const formatImageReference = (ref: ImageReference): string =>
  ref.kind === 'tag' ? `${ref.repository}:${ref.tag}` : ref.kind === 'digest' ? (ref.repository ? `${ref.repository}@${ref.digest}` : ref.digest) : ref.prefix;

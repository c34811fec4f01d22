import { invalid } from './errors.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** An image (manifest) digest. Only sha256 is accepted, as the OCI spec requires of registries. */
export function assertDigest(value: unknown, field = 'digest'): string {
  if (typeof value !== 'string' || !DIGEST.test(value)) {
    throw invalid('INVALID_DIGEST', `${field} must be "sha256:" followed by 64 lowercase hex digits`, { field, value });
  }
  return value;
}

import { DomainError } from '@strata/domain';
import { ConcurrencyError } from '@strata/eventstore';
import { LayerError } from '@strata/layers';
import { RegistryError, type RegistryErrorCode } from '@strata/registry';

/** Layer codes that mean the same thing in the distribution spec's words. */
const LAYER_CODES: Partial<Record<string, RegistryErrorCode>> = {
  DIGEST_INVALID: 'DIGEST_INVALID',
  DIGEST_MISMATCH: 'DIGEST_INVALID',
  SIZE_MISMATCH: 'SIZE_INVALID',
  BLOB_UNKNOWN: 'BLOB_UNKNOWN',
  RANGE_INVALID: 'RANGE_INVALID',
};

const DOMAIN_CODES: Partial<Record<string, RegistryErrorCode>> = {
  INVALID_REPOSITORY_NAME: 'NAME_INVALID',
  INVALID_TAG: 'TAG_INVALID',
  REPOSITORY_NOT_FOUND: 'NAME_UNKNOWN',
  INVALID_DIGEST: 'DIGEST_INVALID',
};

/**
 * Any error met while serving `/v2/` in the distribution spec's terms. `invalidAs` is what a broken
 * input means where it happened: a manifest PUT's bad layer is MANIFEST_INVALID, an upload's is not.
 * Errors we do not know stay null: the caller logs them and answers 500.
 */
export function toRegistryError(error: unknown, invalidAs: RegistryErrorCode = 'MANIFEST_INVALID'): RegistryError | null {
  if (error instanceof RegistryError) return error;
  if (error instanceof LayerError) {
    if (error.code === 'SIZE_LIMIT') return new RegistryError('SIZE_INVALID', error.message, error.details, 413);
    const code = LAYER_CODES[error.code];
    if (code) return new RegistryError(code, error.message, error.details);
    if (error.kind === 'invalid') return new RegistryError(invalidAs, error.message, { reason: error.code, ...error.details });
    return null;
  }
  if (error instanceof DomainError) {
    const code = DOMAIN_CODES[error.code];
    if (code) return new RegistryError(code, error.message, error.details);
    if (error.kind === 'invalid') return new RegistryError(invalidAs, error.message, { reason: error.code, ...error.details });
    if (error.kind === 'forbidden') return new RegistryError('DENIED', error.message, error.details);
    return null;
  }
  if (error instanceof ConcurrencyError) {
    // The command bus already retried; the same push again will find the log settled.
    return new RegistryError('DENIED', `${error.message}; the repository kept changing, push again`, undefined, 409);
  }
  return null;
}

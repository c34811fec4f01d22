import type { RegistryAuth } from '@strata/api';
import { RegistryClientError, type RegistryCredentials } from '@strata/registry';
import type { Request } from 'express';
import { ApiError } from '../http/api-error.js';

export const REGISTRY_AUTH_HEADER = 'x-registry-auth';

/**
 * A remote registry's credentials from the `X-Registry-Auth` header (base64 of RegistryAuth's JSON,
 * standard or URL-safe alphabet), or null when the request has none. Credentials for another registry
 * are refused rather than sent somewhere they were not meant for. Never logged, never recorded.
 */
export function registryCredentials(request: Request, registry: string): RegistryCredentials | null {
  const header = request.headers[REGISTRY_AUTH_HEADER];
  if (header === undefined || header === '') return null;
  const bad = () => new ApiError(400, 'INVALID_REGISTRY_AUTH', 'X-Registry-Auth must be base64 of {"username","password","serveraddress"}');
  if (typeof header !== 'string' || header.length > 16 * 1024) throw bad();
  let auth: Partial<RegistryAuth>;
  try {
    auth = JSON.parse(Buffer.from(header.replaceAll('-', '+').replaceAll('_', '/'), 'base64').toString('utf8')) as Partial<RegistryAuth>;
  } catch {
    throw bad();
  }
  if (!auth || typeof auth.username !== 'string' || typeof auth.password !== 'string' || !auth.username) throw bad();
  if (typeof auth.serveraddress === 'string' && auth.serveraddress !== '' && auth.serveraddress.toLowerCase() !== registry) {
    throw new ApiError(400, 'INVALID_REGISTRY_AUTH', `X-Registry-Auth holds credentials for ${auth.serveraddress}, not for ${registry}`);
  }
  return { username: auth.username, password: auth.password };
}

const STATUS: Record<RegistryClientError['code'], number> = {
  INVALID_REFERENCE: 400,
  REGISTRY_UNREACHABLE: 502,
  REGISTRY_UNAUTHORIZED: 403,
  REGISTRY_DENIED: 403,
  MANIFEST_UNKNOWN: 404,
  NAME_UNKNOWN: 404,
  BLOB_UNKNOWN: 502,
  DIGEST_MISMATCH: 502,
  SIZE_MISMATCH: 502,
  SIZE_LIMIT: 413,
  MANIFEST_INVALID: 502,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PLATFORM_NOT_FOUND: 404,
  REGISTRY_PROTOCOL: 502,
  REGISTRY_ERROR: 502,
};

/**
 * A remote registry's failure as this node's problem: 502 for what the other side got wrong, 403 for
 * refused credentials (never 401: that would say the node refused the caller's own token), 404 for an
 * image or platform that is not there.
 */
export function asApiError(error: unknown): unknown {
  if (!(error instanceof RegistryClientError)) return error;
  return new ApiError(STATUS[error.code] ?? 502, error.code, error.message, {
    ...(error.status !== undefined ? { remoteStatus: error.status } : {}),
    ...(error.details ?? {}),
  });
}

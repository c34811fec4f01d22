/**
 * Failures of a remote registry, or of what it sent. `code` is stable (the node maps it to an HTTP
 * status and a problem code); the message says which registry, repository and digest, never a secret.
 */
export type RegistryClientErrorCode =
  | 'INVALID_REFERENCE' // not a `registry/name:tag` or `registry/name@sha256:…`
  | 'REGISTRY_UNREACHABLE' // no HTTP answer: refused, reset, DNS, timeout
  | 'REGISTRY_UNAUTHORIZED' // 401 even after the auth flow: missing or wrong credentials
  | 'REGISTRY_DENIED' // 403: authenticated, not allowed
  | 'MANIFEST_UNKNOWN'
  | 'NAME_UNKNOWN'
  | 'BLOB_UNKNOWN'
  | 'DIGEST_MISMATCH' // the bytes do not hash to the digest they were asked for (a broken or malicious registry)
  | 'SIZE_MISMATCH' // more or fewer bytes than the descriptor says
  | 'SIZE_LIMIT' // a blob or document larger than this node accepts
  | 'MANIFEST_INVALID' // not an image manifest or index we can read
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PLATFORM_NOT_FOUND' // an index without a manifest for the wanted platform
  | 'REGISTRY_PROTOCOL' // an answer the distribution spec does not allow (no Location, a bad token answer…)
  | 'REGISTRY_ERROR'; // any other error answer

export class RegistryClientError extends Error {
  override readonly name = 'RegistryClientError';
  constructor(
    readonly code: RegistryClientErrorCode,
    message: string,
    /** The remote's HTTP status, when there was an answer. */
    readonly status?: number,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** The distribution spec's error body: `{errors: [{code, message, detail}]}`; the first one, if any. */
export function remoteError(text: string): { code: string; message: string } | undefined {
  try {
    const body = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = body?.errors?.[0];
    if (first && typeof first.code === 'string') return { code: first.code, message: typeof first.message === 'string' ? first.message : '' };
  } catch {
    // not the spec's JSON (a proxy's HTML page…)
  }
  return undefined;
}

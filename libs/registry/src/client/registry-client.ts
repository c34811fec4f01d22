import { createHash } from 'node:crypto';
import { MediaTypes } from '@strata/layers';
import { findChallenge } from './challenge.js';
import { RegistryClientError, remoteError, type RegistryClientErrorCode } from './errors.js';
import { registryBaseUrl } from './reference.js';

/** A user name and password (or token) for one registry. Held in memory only, never logged. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface RegistryClientOptions {
  /** `host[:port]`, as in a reference. */
  registry: string;
  /** Plain HTTP to a registry that is not on loopback (Docker's insecure-registries). */
  insecure?: boolean;
  credentials?: RegistryCredentials | null;
  userAgent?: string;
  /** How long to wait for an answer's headers (a body is watched by whoever reads it). Default 60 s. */
  timeoutMs?: number;
}

/** Everything an image reference may resolve to, in the order we prefer. */
export const MANIFEST_ACCEPT = [MediaTypes.ociIndex, MediaTypes.dockerManifestList, MediaTypes.ociManifest, MediaTypes.dockerManifest].join(', ');
/** Manifests and indexes are small; a registry sending more is broken or hostile. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface FetchedManifest {
  bytes: Buffer;
  /** From the Content-Type, else the document's own mediaType. */
  mediaType: string;
  /** sha256 of the bytes as received: what they are, whatever the registry says. */
  digest: string;
}

interface RequestOptions {
  /** Token scopes this request needs (`repository:demo/app:pull`). */
  scopes: string[];
  headers?: Record<string, string>;
  /** Only re-sendable bodies: a 401 is answered by sending the request again with a token. */
  body?: Buffer | string;
  signal?: AbortSignal;
}

export const sha256Of = (bytes: Uint8Array | string): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
export const pullScope = (repository: string) => `repository:${repository}:pull`;
export const pushScope = (repository: string) => `repository:${repository}:pull,push`;

/**
 * An HTTP client of one distribution-spec registry (OCI distribution spec v1.1, Docker registry v2):
 * authentication (the Docker token flow after a `401 WWW-Authenticate: Bearer …` challenge, with Basic
 * credentials or anonymously; plain Basic auth), manifests, blobs, uploads. Trusts nothing it
 * receives: manifests are hashed here, blobs by whoever stores them (see pullImage).
 */
export class RegistryClient {
  readonly registry: string;
  readonly baseUrl: string;
  private readonly credentials: RegistryCredentials | null;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  /** Learned from the registry's first 401: how it wants to be authenticated. */
  private bearer: { realm: string; service: string | undefined } | null = null;
  private basic = false;
  /** Scope set → bearer token. */
  private readonly tokens = new Map<string, string>();

  constructor(options: RegistryClientOptions) {
    this.registry = options.registry;
    this.baseUrl = registryBaseUrl(options.registry, { insecure: options.insecure });
    this.credentials = options.credentials ?? null;
    this.userAgent = options.userAgent ?? 'strata';
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /**
   * `GET /v2/`: the registry is there and speaks the API, and, with credentials, accepts them (what
   * `strata login` checks). A Bearer registry is asked for a token with no scope.
   */
  async ping(): Promise<void> {
    const res = await this.request('GET', '/v2/', { scopes: [] });
    await drain(res);
    if (!res.ok) throw await this.failure(res, 'GET /v2/');
    if (this.credentials && !this.basic && !this.bearer) {
      // An open registry: nothing to check the credentials against. Fine, as with docker login.
    }
  }

  /** GET a manifest or index by tag or digest, capped, hashed, and checked against every digest claimed for it. */
  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    const res = await this.request('GET', `/v2/${repository}/manifests/${reference}`, {
      scopes: [pullScope(repository)],
      headers: { Accept: MANIFEST_ACCEPT },
    });
    if (!res.ok) throw await this.failure(res, `manifest ${repository}:${reference}`);
    const bytes = await readCapped(res, MAX_MANIFEST_BYTES, `manifest ${repository}:${reference}`);
    const digest = sha256Of(bytes);
    const where = `${this.registry}/${repository}`;
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new RegistryClientError('DIGEST_MISMATCH', `${where} answered manifest ${reference} with bytes whose digest is ${digest}: refused`, undefined, {
        expected: reference,
        actual: digest,
      });
    }
    const claimed = res.headers.get('docker-content-digest');
    if (claimed && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new RegistryClientError('DIGEST_MISMATCH', `${where}:${reference}: the registry says the manifest is ${claimed}, but its bytes hash to ${digest}: refused`, undefined, {
        expected: claimed,
        actual: digest,
      });
    }
    return { bytes, digest, mediaType: contentType(res) ?? documentMediaType(bytes) ?? MediaTypes.ociManifest };
  }

  /** HEAD a blob: its size when the repository has it, null when not. */
  async blobSize(repository: string, digest: string): Promise<number | null> {
    const res = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`, { scopes: [pullScope(repository)] });
    await drain(res);
    if (res.status === 404) return null;
    if (!res.ok) throw await this.failure(res, `blob ${digest}`);
    const length = Number(res.headers.get('content-length'));
    return Number.isSafeInteger(length) ? length : null;
  }

  /**
   * GET a blob from `offset` on (a Range request when offset > 0). The answer is 200 (the whole blob)
   * or 206 (from the offset; checked here against Content-Range). The caller reads and verifies the body.
   */
  async openBlob(repository: string, digest: string, offset = 0, signal?: AbortSignal): Promise<{ res: Response; partial: boolean }> {
    const headers: Record<string, string> = { Accept: '*/*' };
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    const res = await this.request('GET', `/v2/${repository}/blobs/${digest}`, { scopes: [pullScope(repository)], headers, signal });
    if (res.status !== 200 && res.status !== 206) throw await this.failure(res, `blob ${digest}`);
    if (res.status === 206) {
      const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!range || Number(range[1]) !== offset) {
        await drain(res);
        throw new RegistryClientError('REGISTRY_PROTOCOL', `${this.registry} answered a range request from byte ${offset} of ${digest} with Content-Range "${res.headers.get('content-range')}"`);
      }
    }
    return { res, partial: res.status === 206 };
  }

  /**
   * POST an upload. With `mount`, asks for a cross-repository mount first: 201 means the blob is
   * there (mounted), 202 that the registry started an ordinary upload instead.
   */
  async startUpload(repository: string, mount?: { digest: string; from: string }): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const query = mount ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}` : '';
    const scopes = [pushScope(repository), ...(mount ? [pullScope(mount.from)] : [])];
    const res = await this.request('POST', `/v2/${repository}/blobs/uploads/${query}`, { scopes, headers: { 'Content-Length': '0' } });
    await drain(res);
    if (mount && res.status === 201) return { mounted: true };
    if (res.status !== 202) throw await this.failure(res, `upload to ${repository}`);
    return { mounted: false, location: this.location(res, `POST ${repository}/blobs/uploads/`) };
  }

  /** PATCH one chunk at `start` (Content-Range, as the spec's chunked upload); the next Location. */
  async uploadChunk(repository: string, location: string, chunk: Buffer, start: number): Promise<string> {
    const end = start + chunk.length - 1;
    const res = await this.request('PATCH', location, {
      scopes: [pushScope(repository)],
      body: chunk,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${end}`, 'Content-Length': String(chunk.length) },
    });
    await drain(res);
    if (res.status !== 202 && res.status !== 204) throw await this.failure(res, `chunk ${start}-${end}`);
    const range = res.headers.get('range');
    if (range && range !== `0-${end}` && range !== `bytes=0-${end}`) {
      throw new RegistryClientError('REGISTRY_PROTOCOL', `${this.registry} acknowledged the chunk ${start}-${end} with Range "${range}"`);
    }
    return this.location(res, `PATCH ${repository}`);
  }

  /** PUT `?digest=`: the registry verifies the bytes it got and commits the blob. */
  async completeUpload(repository: string, location: string, digest: string): Promise<void> {
    const url = new URL(location, this.baseUrl);
    url.searchParams.set('digest', digest);
    const res = await this.request('PUT', url.toString(), { scopes: [pushScope(repository)], headers: { 'Content-Length': '0' } });
    await drain(res);
    if (res.status !== 201 && res.status !== 204) throw await this.failure(res, `blob ${digest}`);
    const claimed = res.headers.get('docker-content-digest');
    if (claimed && claimed !== digest) {
      throw new RegistryClientError('DIGEST_MISMATCH', `${this.registry} stored ${digest} as ${claimed}`, undefined, { expected: digest, actual: claimed });
    }
  }

  /** PUT a manifest under a tag (or digest); checks the digest the registry computed, when it says one. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.request('PUT', `/v2/${repository}/manifests/${reference}`, {
      scopes: [pushScope(repository)],
      body: bytes,
      headers: { 'Content-Type': mediaType, 'Content-Length': String(bytes.length) },
    });
    await drain(res);
    if (res.status !== 201 && res.status !== 200) throw await this.failure(res, `manifest ${repository}:${reference}`);
    const digest = sha256Of(bytes);
    const claimed = res.headers.get('docker-content-digest');
    if (claimed && claimed !== digest) {
      throw new RegistryClientError('DIGEST_MISMATCH', `${this.registry} stored the manifest ${digest} as ${claimed}`, undefined, { expected: digest, actual: claimed });
    }
    return digest;
  }

  /** `tags/list`, following `Link` pages. */
  async tags(repository: string): Promise<string[]> {
    const tags: string[] = [];
    let path: string | null = `/v2/${repository}/tags/list?n=1000`;
    for (let page = 0; path && page < 1000; page++) {
      const res = await this.request('GET', path, { scopes: [pullScope(repository)] });
      if (!res.ok) throw await this.failure(res, `tags of ${repository}`);
      const body = JSON.parse((await readCapped(res, MAX_MANIFEST_BYTES, 'tags/list')).toString('utf8')) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.get('link') ?? '');
      path = link ? link[1]! : null;
    }
    return tags;
  }

  // ---- transport and authentication ----------------------------------------------------------------

  /**
   * One request with whatever authentication the registry asked for. A 401 is answered once: a Bearer
   * challenge by fetching a token for the challenge's scope (plus ours), a Basic one by sending the
   * credentials. A second 401 is returned to the caller, who reports it.
   */
  private async request(method: string, pathOrUrl: string, options: RequestOptions): Promise<Response> {
    const url = new URL(pathOrUrl, this.baseUrl).toString();
    let scopes = [...options.scopes];
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...options.headers };
      const authorization = await this.authorization(scopes);
      if (authorization) headers.Authorization = authorization;
      const res = await this.send(url, { method, headers, body: options.body, signal: options.signal });
      if (res.status !== 401 || attempt >= 1) return res;
      const header = res.headers.get('www-authenticate');
      const bearer = findChallenge(header, 'bearer');
      const basic = findChallenge(header, 'basic');
      if (bearer?.params.realm) {
        await drain(res);
        this.bearer = { realm: bearer.params.realm, service: bearer.params.service };
        if (bearer.params.scope) scopes = [...new Set([...scopes, ...bearer.params.scope.split(' ')])];
        this.tokens.delete(scopeKey(scopes));
        continue;
      }
      // (Several requests may meet the challenge at once: each retries once with the credentials.)
      if (basic && this.credentials && !authorization?.startsWith('Basic ')) {
        await drain(res);
        this.basic = true;
        continue;
      }
      return res;
    }
  }

  private async authorization(scopes: string[]): Promise<string | undefined> {
    if (this.bearer) return `Bearer ${await this.token(scopes)}`;
    if (this.basic && this.credentials) return basicAuth(this.credentials);
    return undefined;
  }

  /** The token flow (distribution's token spec): GET realm?service=&scope=…, Basic credentials when we have them. */
  private async token(scopes: string[]): Promise<string> {
    const key = scopeKey(scopes);
    const cached = this.tokens.get(key);
    if (cached) return cached;
    const { realm, service } = this.bearer!;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryClientError('REGISTRY_PROTOCOL', `${this.registry} named a token realm that is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RegistryClientError('REGISTRY_PROTOCOL', `${this.registry} named a token realm that is not http(s)`);
    if (service) url.searchParams.set('service', service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, Accept: 'application/json' };
    if (this.credentials) headers.Authorization = basicAuth(this.credentials);
    const res = await this.send(url.toString(), { method: 'GET', headers });
    if (res.status === 401 || res.status === 403) {
      await drain(res);
      throw new RegistryClientError(
        'REGISTRY_UNAUTHORIZED',
        this.credentials
          ? `${this.registry} refused the credentials of "${this.credentials.username}" (strata login ${this.registry} to change them)`
          : `${this.registry} requires credentials: strata login ${this.registry}`,
        res.status,
      );
    }
    if (!res.ok) throw await this.failure(res, 'token');
    let body: { token?: unknown; access_token?: unknown };
    try {
      body = JSON.parse((await readCapped(res, 1024 * 1024, 'token')).toString('utf8')) as typeof body;
    } catch {
      throw new RegistryClientError('REGISTRY_PROTOCOL', `${this.registry}'s token endpoint answered something that is not JSON`);
    }
    const token = typeof body.token === 'string' && body.token ? body.token : typeof body.access_token === 'string' ? body.access_token : '';
    if (!token) throw new RegistryClientError('REGISTRY_PROTOCOL', `${this.registry}'s token endpoint answered without a token`);
    this.tokens.set(key, token);
    return token;
  }

  private async send(url: string, init: { method: string; headers: Record<string, string>; body?: Buffer | string; signal?: AbortSignal }): Promise<Response> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.timeoutMs);
    try {
      return await fetch(url, {
        method: init.method,
        headers: init.headers,
        body: init.body,
        redirect: 'follow',
        signal: init.signal ? AbortSignal.any([init.signal, timeout.signal]) : timeout.signal,
      });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      const reason = timeout.signal.aborted ? `no answer within ${this.timeoutMs / 1000} s` : networkReason(error);
      throw new RegistryClientError('REGISTRY_UNREACHABLE', `registry ${this.registry} is not reachable at ${this.baseUrl} (${reason})`);
    } finally {
      clearTimeout(timer);
    }
  }

  private location(res: Response, what: string): string {
    const location = res.headers.get('location');
    if (!location) throw new RegistryClientError('REGISTRY_PROTOCOL', `${this.registry} answered ${what} without a Location`);
    return new URL(location, this.baseUrl).toString();
  }

  /** An error answer as a RegistryClientError with the spec's code where the registry gave one. */
  async failure(res: Response, what: string): Promise<RegistryClientError> {
    const text = res.status === 204 ? '' : await res.text().catch(() => '');
    const spec = remoteError(text);
    const said = spec?.message ? `: ${spec.message}` : '';
    const where = `${this.registry}: ${what}`;
    const codeOf = (): RegistryClientErrorCode => {
      if (res.status === 401) return 'REGISTRY_UNAUTHORIZED';
      if (res.status === 403 || spec?.code === 'DENIED') return 'REGISTRY_DENIED';
      if (spec?.code === 'MANIFEST_UNKNOWN' || spec?.code === 'NAME_UNKNOWN' || spec?.code === 'BLOB_UNKNOWN') return spec.code;
      if (spec?.code === 'MANIFEST_INVALID' || spec?.code === 'MANIFEST_BLOB_UNKNOWN') return 'MANIFEST_INVALID';
      if (spec?.code === 'DIGEST_INVALID') return 'DIGEST_MISMATCH';
      if (res.status === 404) return what.startsWith('blob') ? 'BLOB_UNKNOWN' : what.startsWith('manifest') ? 'MANIFEST_UNKNOWN' : 'NAME_UNKNOWN';
      return 'REGISTRY_ERROR';
    };
    const code = codeOf();
    const message =
      code === 'REGISTRY_UNAUTHORIZED'
        ? `${where}: authentication required${said}${this.credentials ? ` (the credentials of "${this.credentials.username}" were refused)` : ` (strata login ${this.registry})`}`
        : `${where}: ${res.status} ${spec?.code ?? res.statusText}${said}`;
    return new RegistryClientError(code, message, res.status, spec ? { remoteCode: spec.code } : undefined);
  }
}

const scopeKey = (scopes: string[]) => [...new Set(scopes)].sort().join(' ');
const basicAuth = (c: RegistryCredentials) => `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;

function contentType(res: Response): string | undefined {
  const type = res.headers.get('content-type')?.split(';')[0]?.trim();
  return type && type !== 'application/json' && type !== 'text/plain' && type !== 'application/octet-stream' ? type : undefined;
}

function documentMediaType(bytes: Buffer): string | undefined {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown; manifests?: unknown };
    if (typeof doc.mediaType === 'string') return doc.mediaType;
    return Array.isArray(doc.manifests) ? MediaTypes.ociIndex : undefined;
  } catch {
    return undefined;
  }
}

/** A body read whole, refused past `max` bytes without reading the rest. */
export async function readCapped(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await drain(res);
    throw new RegistryClientError('SIZE_MISMATCH', `${what} is ${declared} bytes, more than the ${max} allowed`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (!res.body) return Buffer.alloc(0);
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > max) {
      await res.body.cancel().catch(() => undefined);
      throw new RegistryClientError('SIZE_MISMATCH', `${what} is more than the ${max} bytes allowed`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** Ends a body nobody reads, so the connection goes back to the pool. */
export async function drain(res: Response): Promise<void> {
  if (res.body && !res.bodyUsed) await res.body.cancel().catch(() => undefined);
}

export function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}

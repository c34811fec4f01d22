import { All, Controller, Logger, Req, Res } from '@nestjs/common';
import { bearerChallenge, parseRegistryPath, RegistryError, registryErrorBody, repositoryScope, type RegistryRoute } from '@strata/registry';
import type { Request, Response } from 'express';
import { Public } from '../auth/auth.guard.js';
import { REGISTRY_SERVICE, RegistryAccess, type RegistryCaller } from './registry-access.js';
import { RegistryBlobs } from './registry-blobs.service.js';
import { toRegistryError } from './registry-errors.js';
import { RegistryListing } from './registry-listing.service.js';
import { RegistryManifests } from './registry-manifests.service.js';

const READS = new Set(['GET', 'HEAD']);

/** The scope a 401 names: what this request needs (pull to read, pull+push to write, delete to delete). */
function challengeScope(route: RegistryRoute | null, method: string): string | undefined {
  if (!route || !('name' in route)) return undefined;
  if (READS.has(method)) return repositoryScope(route.name, ['pull']);
  const deletesImage = method === 'DELETE' && (route.kind === 'blob' || (route.kind === 'manifest' && route.reference.includes(':')));
  return repositoryScope(route.name, deletesImage ? ['delete'] : ['pull', 'push']);
}

/**
 * The OCI distribution API under `/v2/`. One catch-all route with its own dispatch: repository names
 * contain '/', which Nest's path patterns cannot split from the route's suffix. `@Public()` because the
 * registry does its own access control (anonymous public pulls, the token challenge) and answers
 * errors in the spec's JSON, never problem+json.
 */
@Public()
@Controller()
export class RegistryController {
  private readonly logger = new Logger('registry');

  constructor(
    private readonly access: RegistryAccess,
    private readonly blobs: RegistryBlobs,
    private readonly manifests: RegistryManifests,
    private readonly listing: RegistryListing,
  ) {}

  @All(['v2', 'v2/*path'])
  async handle(@Req() request: Request, @Res() response: Response): Promise<void> {
    response.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const route = parseRegistryPath(request.path);
    try {
      if (!route) throw new RegistryError('UNSUPPORTED', `no registry route ${request.method} ${request.path}`, undefined, 404);
      if (!route.nameValid && 'name' in route) throw new RegistryError('NAME_INVALID', `invalid repository name ${JSON.stringify(route.name)}`);
      if (route.kind === 'token') return await this.token(request, response);
      await this.dispatch(route, await this.access.authenticate(request), request, response);
    } catch (error) {
      this.fail(error, route, request, response);
    }
  }

  private async dispatch(route: RegistryRoute, caller: RegistryCaller, request: Request, response: Response): Promise<void> {
    const method = request.method;
    const is = (...methods: string[]) => methods.includes(method);
    switch (route.kind) {
      case 'base':
        if (!is('GET', 'HEAD')) break;
        // Anonymous callers are challenged here: that is how clients learn to send their token at all.
        if (!caller.principal && request.headers.authorization === undefined) throw new RegistryError('UNAUTHORIZED', 'authentication required');
        response.status(200).json({});
        return;
      case 'catalog':
        if (is('GET')) return this.listing.catalog(caller, request, response);
        break;
      case 'tags':
        if (is('GET')) return this.listing.tags(caller, route.name, request, response);
        break;
      case 'manifest':
        if (is('GET', 'HEAD')) return this.manifests.get(caller, route.name, route.reference, request, response);
        if (is('PUT')) return this.manifests.put(caller, route.name, route.reference, request, response);
        if (is('DELETE')) return this.manifests.remove(caller, route.name, route.reference, request, response);
        break;
      case 'blob':
        if (is('GET', 'HEAD')) return this.blobs.get(caller, route.name, route.digest, request, response);
        if (is('DELETE')) return this.blobs.remove(caller, route.name, route.digest, response);
        break;
      case 'uploads':
        if (is('POST')) return this.blobs.startUpload(caller, route.name, request, response);
        break;
      case 'upload':
        if (is('PATCH')) return this.blobs.patchUpload(caller, route.name, route.uuid, request, response);
        if (is('PUT')) return this.blobs.completeUpload(caller, route.name, route.uuid, request, response);
        if (is('GET')) return this.blobs.uploadStatus(caller, route.name, route.uuid, response);
        if (is('DELETE')) return this.blobs.cancelUpload(caller, route.name, route.uuid, response);
        break;
      case 'token':
        break;
    }
    throw new RegistryError('UNSUPPORTED', `${method} is not supported on ${request.path} (yet)`, undefined, 405);
  }

  /**
   * GET /v2/token, the Docker token flow's realm: Basic `<principal>:<API token>`, a Bearer API token or
   * nothing (anonymous) in; a short-lived signed token out, carrying for each requested
   * `scope=repository:<name>:<actions>` the actions the caller is allowed (anonymous: pull of public
   * repositories). Asking for more than one is allowed is not an error: the token simply carries less.
   */
  private async token(request: Request, response: Response): Promise<void> {
    if (request.method !== 'GET') throw new RegistryError('UNSUPPORTED', `${request.method} is not supported on /v2/token`, undefined, 405);
    const issued = await this.access.issueToken(request);
    response.setHeader('Cache-Control', 'no-store');
    response.status(200).json({ token: issued.token, access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt });
  }

  private fail(error: unknown, route: RegistryRoute | null, request: Request, response: Response): void {
    if (!request.complete && (request.destroyed || response.destroyed)) {
      // The client went away mid-body (a cut upload): nothing was committed, and there is nobody to answer.
      this.logger.warn({ msg: 'registry request aborted by the client', method: request.method, url: request.originalUrl });
      response.destroy();
      return;
    }
    const known = toRegistryError(error, route?.kind === 'manifest' ? 'MANIFEST_INVALID' : 'BLOB_UPLOAD_INVALID');
    if (!known) this.logger.error({ msg: 'registry request failed', method: request.method, url: request.originalUrl, error: String(error), stack: (error as Error)?.stack });
    const answer = known ?? new RegistryError('UNKNOWN', 'internal error: the node logged the details');
    if (!request.complete) request.resume();
    if (response.headersSent) {
      response.destroy();
      return;
    }
    if (answer.status === 401) {
      response.setHeader('WWW-Authenticate', bearerChallenge(`${request.protocol}://${request.headers.host}/v2/token`, REGISTRY_SERVICE, challengeScope(route, request.method)));
    }
    const body = JSON.stringify(registryErrorBody(answer));
    response.status(answer.status).type('application/json');
    if (request.method === 'HEAD') {
      // HEAD answers carry no body: the status and headers are the whole answer.
      response.setHeader('Content-Length', String(Buffer.byteLength(body)));
      response.end();
      return;
    }
    response.send(body);
  }
}

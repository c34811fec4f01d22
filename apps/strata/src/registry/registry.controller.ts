import { All, Controller, Logger, Req, Res } from '@nestjs/common';
import { bearerChallenge, parseRegistryPath, RegistryError, registryErrorBody, repositoryScope, type RegistryRoute } from '@strata/registry';
import type { Request, Response } from 'express';
import { Public } from '../auth/auth.guard.js';
import { ANONYMOUS_TOKEN, RegistryAccess, type RegistryCaller } from './registry-access.js';
import { RegistryBlobs } from './registry-blobs.service.js';
import { toRegistryError } from './registry-errors.js';
import { RegistryListing } from './registry-listing.service.js';
import { RegistryManifests } from './registry-manifests.service.js';

const SERVICE = 'strata';
const READS = new Set(['GET', 'HEAD']);

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
      if (route.kind === 'token') return this.token(request, response);
      await this.dispatch(route, this.access.authenticate(request), request, response);
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
        break;
      case 'blob':
        if (is('GET', 'HEAD')) return this.blobs.get(caller, route.name, route.digest, request, response);
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
   * GET /v2/token, the Docker token flow's realm: Basic credentials with an API token as the password
   * get that token back as the bearer token; no credentials get the anonymous token (public pulls).
   * Short-lived signed tokens with scopes are the principals slice's work.
   */
  private token(request: Request, response: Response): void {
    const { token } = this.access.basicPrincipal(request);
    const issued = token ?? ANONYMOUS_TOKEN;
    response.status(200).json({ token: issued, access_token: issued, expires_in: 300, issued_at: new Date().toISOString() });
  }

  private fail(error: unknown, route: RegistryRoute | null, request: Request, response: Response): void {
    const known = toRegistryError(error, route?.kind === 'manifest' ? 'MANIFEST_INVALID' : 'BLOB_UPLOAD_INVALID');
    if (!known) this.logger.error({ msg: 'registry request failed', method: request.method, url: request.originalUrl, error: String(error), stack: (error as Error)?.stack });
    const answer = known ?? new RegistryError('UNKNOWN', 'internal error: the node logged the details');
    if (!request.complete) request.resume();
    if (response.headersSent) {
      response.destroy();
      return;
    }
    if (answer.status === 401) {
      const scope = route && 'name' in route ? repositoryScope(route.name, READS.has(request.method) ? ['pull'] : ['pull', 'push']) : undefined;
      response.setHeader('WWW-Authenticate', bearerChallenge(`${request.protocol}://${request.headers.host}/v2/token`, SERVICE, scope));
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

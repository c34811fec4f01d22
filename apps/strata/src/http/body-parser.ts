import express, { type NextFunction, type Request, type Response } from 'express';
import { toProblem } from './problem.filter.js';
import { ApiError } from './api-error.js';

/**
 * JSON bodies only, up to `limit` bytes. Parse failures are answered here as problems, because
 * errors from Express middleware never reach Nest's exception filters.
 */
export function jsonBodyParser(limit: number, streamingPaths: RegExp = /^\/(images\/(import|load)|containers\/[^/?]+\/files|builds)(\?|$)|^\/v2\//) {
  const parse = express.json({ limit, strict: true, type: () => true });
  return (request: Request, response: Response, next: NextFunction) => {
    const hasBody = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
    if (!hasBody || request.method === 'GET' || request.method === 'HEAD') return next();
    // Archive uploads (a build's context too) and the registry's blobs and manifests (/v2/) stream straight to their handler
    // (the content store), never into memory.
    if (streamingPaths.test(request.originalUrl)) return next();
    const type = request.headers['content-type'] ?? '';
    if (!/^application\/([a-z.+-]*\+)?json\b/i.test(type)) {
      return send(response, new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `send the body as application/json (got ${type || 'no content type'})`), request);
    }
    parse(request, response, (error?: unknown) => {
      if (!error) return next();
      const e = error as { type?: string; limit?: number; message?: string };
      if (e.type === 'entity.too.large') {
        return send(response, new ApiError(413, 'PAYLOAD_TOO_LARGE', `request body is larger than ${limit} bytes`), request);
      }
      if (e.type === 'entity.parse.failed') {
        return send(response, new ApiError(400, 'MALFORMED_JSON', `request body is not valid JSON: ${e.message}`), request);
      }
      return send(response, new ApiError(400, 'BAD_REQUEST', e.message ?? 'unreadable request body'), request);
    });
  };
}

function send(response: Response, error: ApiError, request: Request) {
  const problem = toProblem(error, request.originalUrl);
  response.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
}

import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Problem } from '@strata/api';
import { DomainError } from '@strata/domain';
import { LayerError } from '@strata/layers';
import { ConcurrencyError, InvalidAppendError, StoreUnavailableError, asUnavailable } from '@strata/eventstore';
import type { Request, Response } from 'express';
import { ReplayInProgressError } from '@strata/projections';
import { ZodError } from 'zod';
import { ApiError } from './api-error.js';

const STATUS_OF_KIND = { invalid: 400, 'not-found': 404, conflict: 409, forbidden: 403 } as const;
/** A hostile or broken archive is the client's input (400); a machine that cannot do it is 503. */
const LAYER_STATUS_OF_KIND = { invalid: 400, 'not-found': 404, conflict: 409, unavailable: 503 } as const;
const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 500: 'Internal Server Error',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
};
const CODE_OF_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'ROUTE_NOT_FOUND', 405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE',
};

/** Turns any error into an RFC 7807 problem: the status, a stable code, and what to do next. */
export function toProblem(raw: unknown, instance?: string): Problem {
  // A NATS timeout or lost connection while reading the log is the log being unavailable, not a bug.
  const error = asUnavailable(raw);
  const make = (status: number, code: string, detail: string, details?: Record<string, unknown>): Problem => ({
    type: `urn:strata:problem:${code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    code,
    detail,
    ...(instance ? { instance } : {}),
    ...(details ?? {}),
  });
  if (error instanceof ApiError) return make(error.status, error.code, error.message, error.details);
  if (error instanceof DomainError) return make(STATUS_OF_KIND[error.kind], error.code, error.message, error.details);
  if (error instanceof LayerError) return make(LAYER_STATUS_OF_KIND[error.kind], error.code, error.message, error.details);
  if (error instanceof ConcurrencyError) {
    return make(409, error.code, `${error.message}; the stream kept changing while the command was retried, try again`, {
      streamId: error.streamId,
    });
  }
  if (error instanceof ReplayInProgressError) return make(409, error.code, `${error.message}; wait for it to finish`);
  if (error instanceof InvalidAppendError) return make(400, error.code, error.message);
  if (error instanceof StoreUnavailableError) return make(503, error.code, error.message);
  if (error instanceof ZodError) {
    const errors = error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    const first = errors[0];
    return make(400, 'VALIDATION_FAILED', first ? `${first.path || 'body'}: ${first.message}` : 'invalid request', { errors });
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    return make(status, CODE_OF_STATUS[status] ?? `HTTP_${status}`, error.message);
  }
  return make(500, 'INTERNAL_ERROR', 'internal error: the node logged the details');
}

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const request = host.switchToHttp().getRequest<Request>();
    const response = host.switchToHttp().getResponse<Response>();
    const problem = toProblem(error, request.originalUrl);
    if (problem.code === 'EVENT_LOG_UNAVAILABLE') {
      // An outage is one condition, not a bug per request: a line each, without the stack.
      this.logger.warn({ msg: 'write refused: event log unavailable', method: request.method, url: request.originalUrl, detail: problem.detail });
    } else if (problem.status >= 500) {
      this.logger.error({ msg: 'request failed', method: request.method, url: request.originalUrl, error: String(error), stack: (error as Error)?.stack });
    }
    if (response.headersSent) {
      response.end();
      return;
    }
    if (problem.status === 401) response.setHeader('WWW-Authenticate', 'Bearer realm="strata"');
    response.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  }
}

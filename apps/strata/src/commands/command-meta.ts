import { randomUUID } from 'node:crypto';
import type { CommandMeta } from '@strata/domain';
import type { Request } from 'express';
import type { AuthenticatedRequest } from '../auth/auth.guard.js';
import { ApiError } from '../http/api-error.js';

/** '/' too: steps of a saga derive their ids as `<commandId>/<step>`, and a routed step carries one. */
const ID = /^[A-Za-z0-9._:/-]{1,200}$/;

/** The ids a caller may choose, by header name: the same names over HTTP and over NATS. */
export const META_HEADERS = {
  commandId: 'Idempotency-Key',
  correlationId: 'X-Correlation-Id',
  causationId: 'X-Causation-Id',
} as const;

/** Reads one caller-chosen id through `get` (an HTTP or a NATS header), checked; null when absent. */
export function headerId(get: (name: string) => string | undefined, header: string): string | null {
  const value = get(header);
  if (value === undefined || value === '') return null;
  if (!ID.test(value)) {
    throw new ApiError(400, 'INVALID_HEADER', `${header} must be 1-200 characters of letters, digits, '.', '_', ':', '/' or '-'`);
  }
  return value;
}

/**
 * Who, when and why, taken at the edge: the principal is the actor, `Idempotency-Key` the commandId
 * (a retried command with the same key is answered from the log, not executed again), and
 * `X-Correlation-Id` / `X-Causation-Id` tie a command to the work that caused it.
 */
export function commandMeta(actor: string, get: (name: string) => string | undefined, nodeId: string): CommandMeta {
  const commandId = headerId(get, META_HEADERS.commandId) ?? randomUUID();
  return {
    commandId,
    actor,
    correlationId: headerId(get, META_HEADERS.correlationId) ?? commandId,
    causationId: headerId(get, META_HEADERS.causationId),
    occurredAt: new Date().toISOString(),
    nodeId,
  };
}

/** commandMeta for an HTTP request (after the AuthGuard set its principal). */
export function commandMetaFrom(request: Request, nodeId: string): CommandMeta {
  return commandMeta((request as AuthenticatedRequest).principal.name, (name) => request.header(name), nodeId);
}

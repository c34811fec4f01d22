import { randomUUID } from 'node:crypto';
import type { CommandMeta } from '@strata/domain';
import type { Request } from 'express';
import type { AuthenticatedRequest } from '../auth/auth.guard.js';
import { ApiError } from '../http/api-error.js';

const ID = /^[A-Za-z0-9._:-]{1,200}$/;

function headerId(request: Request, header: string): string | null {
  const value = request.header(header);
  if (value === undefined) return null;
  if (!ID.test(value)) {
    throw new ApiError(400, 'INVALID_HEADER', `${header} must be 1-200 characters of letters, digits, '.', '_', ':' or '-'`);
  }
  return value;
}

/**
 * Who, when and why, taken at the edge: the principal is the actor, `Idempotency-Key` the commandId
 * (a retried request with the same key is answered from the log, not executed again), and
 * `X-Correlation-Id` / `X-Causation-Id` tie a command to the work that caused it.
 */
export function commandMetaFrom(request: Request, nodeId: string): CommandMeta {
  const commandId = headerId(request, 'Idempotency-Key') ?? randomUUID();
  return {
    commandId,
    actor: (request as AuthenticatedRequest).principal.name,
    correlationId: headerId(request, 'X-Correlation-Id') ?? commandId,
    causationId: headerId(request, 'X-Causation-Id'),
    occurredAt: new Date().toISOString(),
    nodeId,
  };
}

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

/** Command ids this process minted (no Idempotency-Key given) and has not appended with yet; bounded. */
const minted = new Set<string>();
const MINTED_MAX = 10_000;

/**
 * Whether `commandId` was minted here and never appended with: true once, for its first append. No
 * earlier append can carry such an id (nobody else knows it), so that append may skip the idempotency
 * lookup (AppendOptions.fresh). Derived ids (`<id>/<step>`), ids from a header and a second attempt
 * are not fresh; neither is an id forgotten by the bound, which only costs the lookup.
 */
export function takeFresh(commandId: string): boolean {
  return minted.delete(commandId);
}

function mint(): string {
  const id = randomUUID();
  minted.add(id);
  if (minted.size > MINTED_MAX) minted.delete(minted.values().next().value!);
  return id;
}

/**
 * Who, when and why, taken at the edge: the principal is the actor, `Idempotency-Key` the commandId
 * (a retried command with the same key is answered from the log, not executed again), and
 * `X-Correlation-Id` / `X-Causation-Id` tie a command to the work that caused it.
 */
export function commandMeta(actor: string, get: (name: string) => string | undefined, nodeId: string): CommandMeta {
  const commandId = headerId(get, META_HEADERS.commandId) ?? mint();
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

import { Injectable } from '@nestjs/common';
import { headers as natsHeaders, NoRespondersError, TimeoutError } from '@nats-io/transport-node';
import type { Problem } from '@strata/api';
import type { CommandMeta } from '@strata/domain';
import { META_HEADERS } from '../commands/command-meta.js';
import { ApiError } from '../http/api-error.js';
import { NatsClient } from './nats-client.js';

/** Each node listens on `strata.node.<nodeId>.cmd.<Name>` for commands routed to it by the others. */
export const nodeCommandSubject = (nodeId: string, name = '*') => `strata.node.${nodeId}.cmd.${name}`;
/** Routed commands carry the caller's principal: inside the cluster, NATS access is the trust boundary. */
export const ACTOR_HEADER = 'Strata-Actor';
const ROUTE_TIMEOUT_MS = 120_000;

/**
 * Routing (issue 9): a container command may arrive at any node; the one that owns the container
 * performs the side effect. A node that finds the container elsewhere (CONTAINER_ON_OTHER_NODE, raised
 * before any side effect) forwards the command to the owner and answers with the owner's answer,
 * errors included. Without NATS there is nowhere to forward to, and the refusal stands.
 */
@Injectable()
export class NodeRouter {
  constructor(private readonly nats: NatsClient) {}

  async routed<T>(ref: string, name: string, input: object, meta: CommandMeta, local: () => Promise<T>): Promise<T> {
    try {
      return await local();
    } catch (error) {
      const owner = (error as { code?: string; details?: { nodeId?: string } }).details?.nodeId;
      if ((error as { code?: string }).code !== 'CONTAINER_ON_OTHER_NODE' || !owner || !this.nats.connection) throw error;
      return this.forward<T>(owner, name, { container: ref, ...input }, meta);
    }
  }

  async forward<T>(nodeId: string, name: string, input: object, meta: CommandMeta): Promise<T> {
    const nc = this.nats.connection;
    if (!nc) throw new ApiError(409, 'NOT_CLUSTERED', `node ${nodeId} is not this node, and this node runs without NATS: there is no cluster to route to`);
    const h = natsHeaders();
    h.set(ACTOR_HEADER, meta.actor);
    h.set(META_HEADERS.commandId, meta.commandId);
    h.set(META_HEADERS.correlationId, meta.correlationId);
    if (meta.causationId) h.set(META_HEADERS.causationId, meta.causationId);
    let reply;
    try {
      reply = await nc.request(nodeCommandSubject(nodeId, name), JSON.stringify(input), { headers: h, timeout: ROUTE_TIMEOUT_MS });
    } catch (error) {
      if (error instanceof NoRespondersError || (error as Error)?.cause instanceof NoRespondersError || /no responders/i.test(String(error))) {
        throw new ApiError(503, 'NODE_UNREACHABLE', `node ${nodeId} does not answer: it may be down (see strata node ls); retry with the same Idempotency-Key`, { nodeId });
      }
      if (error instanceof TimeoutError) throw new ApiError(504, 'NODE_TIMEOUT', `node ${nodeId} did not answer within ${ROUTE_TIMEOUT_MS / 1000} s`, { nodeId });
      throw error;
    }
    const body = reply.json<{ ok: true; result: T } | { ok: false; problem: Problem }>();
    if (body.ok) return body.result;
    const { status, code, detail, type: _type, title: _title, instance: _instance, ...details } = body.problem;
    throw new ApiError(status, code, detail, { ...details, routedTo: nodeId });
  }
}

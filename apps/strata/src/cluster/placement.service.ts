import { Inject, Injectable } from '@nestjs/common';
import type { ContainerReply, CreateContainerRequest } from '@strata/api';
import type { CommandMeta } from '@strata/domain';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ContainersService } from '../containers/containers.service.js';
import { ApiError } from '../http/api-error.js';
import { ImageResolver } from '../images/image-resolver.js';
import { BlobExchange } from './blob-exchange.js';
import { Membership } from './membership.service.js';
import { NodeRouter } from './node-router.js';
import { pickNode } from './scheduler.js';

/**
 * Where a new container goes: the node asked for (`--node`), or the scheduler's pick among ready,
 * alive nodes with room. Created here when that is this node, otherwise routed to it; the node that
 * creates a container owns it for life. The container's id derives from the command id, so the same
 * create run twice, even with a different node picked the second time, makes one container.
 */
@Injectable()
export class Placement {
  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    private readonly membership: Membership,
    private readonly router: NodeRouter,
    private readonly containers: ContainersService,
    private readonly images: ImageResolver,
    private readonly blobs: BlobExchange,
  ) {}

  async create(request: CreateContainerRequest, meta: CommandMeta): Promise<ContainerReply> {
    const { node, ...rest } = request;
    if (!this.membership.enabled) {
      if (node && node !== this.config.nodeId) throw new ApiError(404, 'NODE_NOT_FOUND', `no node ${node}: this node (${this.config.nodeId}) runs alone, without NATS`, { nodeId: node });
      return this.containers.create(rest, meta);
    }
    // The same create run again (a retry, a failover taken over): answered with what the first run made, wherever that is.
    const earlier = await this.containers.createdBefore(meta);
    if (earlier) return earlier;
    const target = await this.target(node);
    if (target === this.config.nodeId) return this.createHere(rest, meta);
    return this.router.forward<ContainerReply>(target, 'CreateContainer', { ...rest, node: target }, meta);
  }

  /** Creates the container on this node, first fetching the image's blobs from the cluster if they are elsewhere. */
  async createHere(request: CreateContainerRequest, meta: CommandMeta): Promise<ContainerReply> {
    const { node: _node, ...rest } = request;
    await this.blobs.ensure(await this.images.resolve(rest.image));
    return this.containers.create(rest, meta);
  }

  private async target(asked: string | undefined): Promise<string> {
    const candidates = await this.membership.candidates();
    if (asked) {
      if (asked === this.config.nodeId) return asked; // a routed create, or this node asked by name
      const node = candidates.find((n) => n.nodeId === asked);
      if (!node) throw new ApiError(404, 'NODE_NOT_FOUND', `no node ${asked} in this cluster (strata node ls)`, { nodeId: asked });
      if (node.status === 'draining') throw new ApiError(409, 'NODE_DRAINING', `node ${asked} is draining: nothing new is placed there`, { nodeId: asked });
      if (node.status !== 'ready' || !node.alive) throw new ApiError(409, 'NODE_NOT_READY', `node ${asked} is ${node.alive ? node.status : 'not answering'}`, { nodeId: asked });
      return asked;
    }
    const picked = pickNode(candidates);
    if (!picked) throw new ApiError(503, 'NO_NODE_AVAILABLE', 'no ready node has room for another container (strata node ls): add capacity or undrain a node');
    return picked;
  }
}

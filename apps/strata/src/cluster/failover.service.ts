import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { ContainerReply, ContainerView } from '@strata/api';
import { parseRestartPolicy, type CommandMeta } from '@strata/domain';
import { CommandSteps } from '../commands/command-steps.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ContainersService } from '../containers/containers.service.js';
import { ReadModels } from '../projections/read-models.service.js';
import { Membership } from './membership.service.js';
import { NodeRouter } from './node-router.js';
import { Placement } from './placement.service.js';

/** Label on a replacement container: the container (on a lost node) it replaces. */
export const RESCHEDULED_FROM = 'strata.rescheduled-from';

/**
 * What the node that declared another lost does about its containers: every running or paused one is
 * recorded as exited (`node-lost`; exit code 137, as after SIGKILL), and those whose restart policy would
 * restart them are rescheduled: the old record is removed (its writable layer is gone with the node),
 * and a new container with the same name, image and config is placed on a ready node and started.
 * Every step has a command id derived from the loss, so a retried step is not recorded twice. Not yet
 * handled: a declarer that dies half-way leaves the rest of that failover undone (nobody takes it over).
 */
@Injectable()
export class Failover implements OnModuleInit {
  private readonly logger = new Logger('cluster');

  constructor(
    private readonly membership: Membership,
    private readonly reads: ReadModels,
    private readonly steps: CommandSteps,
    private readonly placement: Placement,
    private readonly router: NodeRouter,
    private readonly containers: ContainersService,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  onModuleInit(): void {
    this.membership.onLost((nodeId, meta) => this.failOver(nodeId, meta));
  }

  async failOver(nodeId: string, meta: CommandMeta): Promise<void> {
    await this.reads.catchUpToHead();
    const stranded = (await this.reads.engine.listContainers(true)).filter((c) => c.nodeId === nodeId && (c.status === 'running' || c.status === 'paused'));
    for (const c of stranded) {
      try {
        await this.steps.run(meta, `exit-${c.id}`, 'RecordContainerExit', {
          id: c.id,
          exitCode: 137,
          reason: 'node-lost',
          signal: null,
          oomKilled: false,
          error: `node ${nodeId} was lost`,
        });
        if (restarts(c)) await this.reschedule(c, meta);
      } catch (error) {
        this.logger.error({ msg: 'failover of a container failed', container: c.id, node: nodeId, error: String(error) });
      }
    }
    this.logger.log({ msg: `failover of ${nodeId} done`, containers: stranded.length, rescheduled: stranded.filter(restarts).length });
  }

  private async reschedule(c: ContainerView, meta: CommandMeta): Promise<void> {
    await this.steps.run(meta, `remove-${c.id}`, 'RemoveContainer', { id: c.id });
    await this.steps.run(meta, `release-${c.id}`, 'ReleaseContainerName', { name: c.name, containerId: c.id });
    const step = (name: string): CommandMeta => ({ ...meta, commandId: `${meta.commandId}/${name}-${c.id}` });
    const created = await this.placement.create(
      {
        image: c.image.manifestDigest,
        name: c.name,
        cmd: c.config.cmd ?? undefined,
        entrypoint: c.config.entrypoint ?? undefined,
        env: c.config.env,
        workingDir: c.config.workingDir,
        user: c.config.user,
        labels: { ...c.config.labels, [RESCHEDULED_FROM]: c.id },
        hostname: c.config.hostname,
        restart: c.restartPolicy,
        stopSignal: c.config.stopSignal,
        stopTimeout: c.config.stopTimeoutSeconds,
      },
      step('create'),
    );
    const id = created.container.id;
    const owner = created.container.nodeId;
    if (owner === this.config.nodeId) await this.containers.start(id, step('start'));
    else await this.router.forward<ContainerReply>(owner, 'StartContainer', { container: id }, step('start'));
    this.logger.log({ msg: `rescheduled ${c.name}`, from: c.id, to: id, node: created.container.nodeId });
  }
}

/** Would Docker restart it after this exit? (`on-failure`: yes, 137 is a failure.) */
function restarts(c: ContainerView): boolean {
  return parseRestartPolicy(c.restartPolicy).name !== 'no';
}

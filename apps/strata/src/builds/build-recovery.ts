import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { buildDecider, buildStreamId, fold, type BuildEvent, type CommandMeta } from '@strata/domain';
import { EVENT_STORE, type EventStore } from '@strata/eventstore';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandSteps } from '../commands/command-steps.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ContainersService } from '../containers/containers.service.js';
import { ReadModels } from '../projections/read-models.service.js';

/**
 * A node that stopped in the middle of a build finishes the saga when it starts again: the build is
 * recorded as failed (its steps so far stay, and a new build takes them from the cache), its
 * intermediate containers are removed and its context directory goes.
 */
@Injectable()
export class BuildRecovery implements OnApplicationBootstrap {
  private readonly logger = new Logger('build');
  constructor(
    private readonly reads: ReadModels,
    private readonly containers: ContainersService,
    private readonly steps: CommandSteps,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.reads.catchUpToHead();
    const open = new Map<string, { actor: string; commandId: string }>();
    for (let after = 0; ;) {
      const page = await this.reads.engine.queryEvents({ types: ['BuildStarted', 'BuildCompleted', 'BuildFailed'], after, limit: 1000 });
      for (const e of page.items) {
        const buildId = (e.data as { buildId: string }).buildId;
        if (e.type === 'BuildStarted' && e.nodeId === this.config.nodeId) open.set(buildId, { actor: e.actor, commandId: e.commandId });
        else open.delete(buildId);
        after = e.position;
      }
      if (page.next === null) break;
    }
    for (const [buildId, started] of open) {
      try {
        await this.abandon(buildId, started);
      } catch (error) {
        this.logger.error({ msg: 'could not close a build cut short', buildId, error: String(error) });
      }
    }
  }

  private async abandon(buildId: string, started: { actor: string; commandId: string }): Promise<void> {
    const meta: CommandMeta = {
      commandId: `build-recovery-${buildId}`, actor: started.actor, correlationId: started.commandId, causationId: started.commandId,
      occurredAt: new Date().toISOString(), nodeId: this.config.nodeId,
    };
    const prefix = `build-${buildId.slice(0, 12)}-step-`;
    for (const c of await this.reads.engine.listContainers(true)) {
      if (c.name.startsWith(prefix) && c.nodeId === this.config.nodeId) await this.containers.remove(c.id, true, { ...meta, commandId: `${meta.commandId}/${c.id.slice(0, 12)}` });
    }
    await rm(join(this.config.dataDir, 'builds', buildId), { recursive: true, force: true });
    const state = fold(buildDecider, (await this.store.readStream(buildStreamId(buildId))) as unknown as BuildEvent[]);
    if (state.status !== 'running') return;
    await this.steps.run(meta, 'fail', 'FailBuild', {
      buildId, step: Math.min(state.completed + 1, state.total), error: { code: 'NODE_RESTARTED', message: 'the node stopped during the build' }, exitCode: null, output: null,
    });
    this.logger.log({ msg: 'closed a build the node stopped in the middle of', buildId });
  }
}

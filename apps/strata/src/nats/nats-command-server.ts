import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { headers as natsHeaders, type Msg, type Subscription } from '@nats-io/transport-node';
import { isNodeAdmin, type CommandMeta } from '@strata/domain';
import { Principals } from '../auth/principals.service.js';
import { commandMeta } from '../commands/command-meta.js';
import { ExecuteCommand } from '../commands/execute-command.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ContainerCommitService } from '../containers/container-commit.service.js';
import { ContainersService } from '../containers/containers.service.js';
import { ApiError } from '../http/api-error.js';
import { toProblem } from '../http/problem.filter.js';
import { ImagesService } from '../images/images.service.js';
import { NatsClient } from '../cluster/nats-client.js';
import { ACTOR_HEADER, NodeRouter, nodeCommandSubject } from '../cluster/node-router.js';
import { Placement } from '../cluster/placement.service.js';
import { Metrics } from '../metrics/metrics.js';
import { NATS_COMMANDS, type ContainerVerb, type NatsCommandServices } from './nats-commands.js';

/** Subjects of the command gateway: `strata.cmd.<CommandName>`, one queue group for all nodes. */
export const COMMAND_SUBJECT_PREFIX = 'strata.cmd';
export const COMMAND_QUEUE = 'strata-nodes';
/** Commands handled at once by one node; more wait in the subscription (NATS buffers them). */
const MAX_IN_FLIGHT = 64;

/**
 * The command gateway on NATS: request/reply on `strata.cmd.<Name>`, the body the command's JSON
 * input, `Authorization: Bearer <token>` and the same Idempotency-Key / X-Correlation-Id /
 * X-Causation-Id headers as HTTP. The reply is `{ok: true, result}` (the HTTP reply, with its position)
 * or `{ok: false, problem}` (the same problem+json and code as HTTP); header `Strata-Status` has the
 * HTTP status. A queue group, so several nodes share the commands. Only when the node runs on NATS.
 */
@Injectable()
export class NatsCommandServer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('nats-commands');
  private readonly subscriptions: Subscription[] = [];
  private readonly loops: Promise<void>[] = [];
  private readonly inflight = new Set<Promise<void>>();
  /** For commands from clients: container commands are routed to the container's owner. */
  private readonly gateway: NatsCommandServices;
  /** For commands routed here by another node: performed here, never routed again. */
  private readonly local: NatsCommandServices;

  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    private readonly nats: NatsClient,
    private readonly principals: Principals,
    private readonly metrics: Metrics,
    commandBus: CommandBus,
    containers: ContainersService,
    commits: ContainerCommitService,
    images: ImagesService,
    router: NodeRouter,
    placement: Placement,
  ) {
    this.local = {
      catalog: (name, input, meta) => commandBus.execute(new ExecuteCommand(name, input, meta)),
      createContainer: (input, meta) => placement.createHere(input, meta),
      containerVerb: (verb, ref, args, meta) => runVerb(containers, verb, ref, args, meta),
      commitLayer: (ref, input, meta) => commits.commit(ref, input, meta),
      removeImage: (ref, force, meta) => images.remove(ref, force, meta),
    };
    this.gateway = {
      ...this.local,
      createContainer: (input, meta) => placement.create(input, meta),
      containerVerb: (verb, ref, args, meta) => router.routed(ref, VERB_COMMANDS[verb], args, meta, () => runVerb(containers, verb, ref, args, meta)),
      commitLayer: (ref, input, meta) => router.routed(ref, 'CommitLayer', input, meta, () => commits.commit(ref, input, meta)),
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    const nc = this.nats.connection;
    if (!nc) return;
    this.serve(nc.subscribe(`${COMMAND_SUBJECT_PREFIX}.*`, { queue: COMMAND_QUEUE }), false);
    this.serve(nc.subscribe(nodeCommandSubject(this.config.nodeId)), true);
    this.logger.log({ msg: `command gateway on ${COMMAND_SUBJECT_PREFIX}.<Name> (queue ${COMMAND_QUEUE}) and ${nodeCommandSubject(this.config.nodeId, '<Name>')}`, commands: Object.keys(NATS_COMMANDS).length });
  }

  private serve(subscription: Subscription, routed: boolean): void {
    this.subscriptions.push(subscription);
    this.loops.push(
      (async () => {
        for await (const message of subscription) {
          const handled = this.handle(message, routed).catch((error: unknown) => this.logger.error({ msg: 'command reply failed', error: String(error) }));
          this.inflight.add(handled);
          void handled.finally(() => this.inflight.delete(handled));
          if (this.inflight.size >= MAX_IN_FLIGHT) await Promise.race(this.inflight);
        }
      })(),
    );
  }

  private async handle(message: Msg, routed: boolean): Promise<void> {
    const name = message.subject.slice(message.subject.lastIndexOf('.') + 1);
    const end = this.metrics.httpRequests.startTimer({ method: 'NATS' });
    let status = 200;
    let body: unknown;
    let position: number | undefined;
    try {
      const result = await this.execute(name, message, routed);
      body = { ok: true, result };
      position = (result as { position?: number } | null)?.position;
    } catch (error) {
      const problem = toProblem(error, message.subject);
      if (problem.status >= 500 && problem.code !== 'EVENT_LOG_UNAVAILABLE') this.logger.error({ msg: 'command failed', command: name, error: String(error), stack: (error as Error)?.stack });
      status = problem.status;
      body = { ok: false, problem };
    }
    end({ route: `nats:${name}`, status: String(status) });
    if (!message.reply) return; // a plain publish: nobody to answer
    const h = natsHeaders();
    h.set('Strata-Status', String(status));
    if (position !== undefined) h.set('Strata-Position', String(position));
    message.respond(JSON.stringify(body), { headers: h });
  }

  private async execute(name: string, message: Msg, routed: boolean): Promise<unknown> {
    const command = Object.hasOwn(NATS_COMMANDS, name) ? NATS_COMMANDS[name] : undefined;
    if (!command) throw new ApiError(404, 'UNKNOWN_COMMAND', `unknown command "${name}"; known: ${Object.keys(NATS_COMMANDS).join(', ')}`);
    const header = (key: string) => message.headers?.get(key) || undefined;
    let input: unknown = {};
    if (message.data.length > 0) {
      try {
        input = JSON.parse(message.string());
      } catch {
        throw new ApiError(400, 'INVALID_JSON', 'the message body must be the command input as JSON');
      }
    }
    // A routed command was authenticated by the node it reached first; it names the principal.
    const actor = routed ? header(ACTOR_HEADER) : await this.authenticate(header('Authorization'));
    if (!actor) throw new ApiError(400, 'MISSING_ACTOR', `a routed command needs the ${ACTOR_HEADER} header`);
    const meta = commandMeta(actor, header, this.config.nodeId);
    return command.run(input, meta, routed ? this.local : this.gateway);
  }

  private async authenticate(authorization: string | undefined): Promise<string> {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) throw new ApiError(401, 'UNAUTHORIZED', 'missing token: send the header "Authorization: Bearer <token>" with the request');
    const principal = await this.principals.authenticate(token);
    if (!principal) throw new ApiError(401, 'UNAUTHORIZED', 'unknown or revoked token');
    // Per-repository grants are enforced on HTTP routes; over NATS every command needs a node administrator.
    if (!isNodeAdmin(principal.grants)) throw new ApiError(403, 'FORBIDDEN', `commands over NATS are for node administrators (a grant admin:*); ${principal.name} may use HTTP and /v2/`);
    return principal.name;
  }

  async onModuleDestroy(): Promise<void> {
    // Stop taking commands, answer the ones in hand; the connection itself is closed by NatsClient.
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    await Promise.all(this.loops);
    await Promise.allSettled([...this.inflight]);
  }
}

const VERB_COMMANDS: Record<ContainerVerb, string> = {
  start: 'StartContainer',
  stop: 'StopContainer',
  restart: 'RestartContainer',
  kill: 'KillContainer',
  pause: 'PauseContainer',
  unpause: 'UnpauseContainer',
  rename: 'RenameContainer',
  remove: 'RemoveContainer',
};

function runVerb(
  containers: ContainersService,
  verb: ContainerVerb,
  ref: string,
  args: { timeout?: number; signal?: string; name?: string; force?: boolean },
  meta: CommandMeta,
): Promise<unknown> {
  switch (verb) {
    case 'start':
      return containers.start(ref, meta);
    case 'stop':
      return containers.stop(ref, args.timeout, meta);
    case 'restart':
      return containers.restart(ref, args.timeout, meta);
    case 'kill':
      return containers.kill(ref, args.signal ?? 'SIGKILL', meta);
    case 'pause':
      return containers.pause(ref, meta);
    case 'unpause':
      return containers.unpause(ref, meta);
    case 'rename':
      return containers.rename(ref, args.name!, meta);
    case 'remove':
      return containers.remove(ref, args.force ?? false, meta);
  }
}

import type { CommandMeta } from '@strata/domain';
import { z } from 'zod';
import { COMMAND_CATALOG } from '../commands/command-catalog.js';
import { commitBody, createBody } from '../containers/container-requests.js';

/** What a NATS command may call: the same services the HTTP controllers call. */
export interface NatsCommandServices {
  catalog(name: string, input: unknown, meta: CommandMeta): Promise<unknown>;
  createContainer(input: z.infer<typeof createBody>, meta: CommandMeta): Promise<unknown>;
  containerVerb(verb: ContainerVerb, ref: string, args: { timeout?: number; signal?: string; name?: string; force?: boolean }, meta: CommandMeta): Promise<unknown>;
  commitLayer(ref: string, input: z.infer<typeof commitBody>, meta: CommandMeta): Promise<unknown>;
  removeImage(ref: string, force: boolean, meta: CommandMeta): Promise<unknown>;
}

export type ContainerVerb = 'start' | 'stop' | 'restart' | 'kill' | 'pause' | 'unpause' | 'rename' | 'remove';

export interface NatsCommand {
  summary: string;
  run(input: unknown, meta: CommandMeta, services: NatsCommandServices): Promise<unknown>;
}

const ref = z.string().min(1).max(256);
const timeout = z.number().int().min(0).max(9999).optional();

/** A container verb: `{container, …}` in, the same ContainerReply as the HTTP route out. */
function verb<S extends z.ZodRawShape>(verbName: ContainerVerb, summary: string, extra: S): NatsCommand {
  const input = z.object({ container: ref, ...extra }).strict();
  return {
    summary,
    run: (raw, meta, services) => {
      const { container, ...args } = input.parse(raw ?? {}) as { container: string } & Record<string, unknown>;
      return services.containerVerb(verbName, container, args, meta);
    },
  };
}

/**
 * Every command the HTTP API has that fits in a message, by the name automation sends on
 * `strata.cmd.<Name>`. Repository commands are the catalog's own; the container verbs and CommitLayer
 * go through ContainersService / ContainerCommitService because they have side effects on this node
 * (runc, the snapshotter). Imports and loads carry archives: they stay on HTTP and /v2/.
 */
export const NATS_COMMANDS: Record<string, NatsCommand> = {
  ...Object.fromEntries(
    Object.values(COMMAND_CATALOG)
      .filter((spec) => !spec.internal)
      .map((spec): [string, NatsCommand] => [spec.name, { summary: spec.summary, run: (input, meta, s) => s.catalog(spec.name, input, meta) }]),
  ),
  RemoveImage: {
    summary: 'Delete an image (`{image, force?}`), as DELETE /images/{ref}.',
    run: (raw, meta, s) => {
      const { image, force } = z.object({ image: ref, force: z.boolean().default(false) }).strict().parse(raw ?? {});
      return s.removeImage(image, force, meta);
    },
  },
  CreateContainer: {
    summary: 'Create a container from an image, as POST /containers.',
    run: (raw, meta, s) => s.createContainer(createBody.parse(raw ?? {}), meta),
  },
  StartContainer: verb('start', 'Start a container.', {}),
  StopContainer: verb('stop', 'Stop a container (SIGTERM, then SIGKILL after `timeout` seconds).', { timeout }),
  RestartContainer: verb('restart', 'Stop and start a container.', { timeout }),
  KillContainer: verb('kill', 'Send a signal (default SIGKILL).', { signal: z.string().max(16).optional() }),
  PauseContainer: verb('pause', 'Freeze a container.', {}),
  UnpauseContainer: verb('unpause', 'Thaw a container.', {}),
  RenameContainer: verb('rename', 'Rename a container.', { name: z.string().min(1) }),
  RemoveContainer: verb('remove', 'Remove a container (force: stop it first).', { force: z.boolean().optional() }),
  CommitLayer: {
    summary: "Commit a container's writable layer into a new image (`{container, tag?, author?, message?, changes?, pause?}`).",
    run: (raw, meta, s) => {
      const { container, ...rest } = z.object({ container: ref }).passthrough().parse(raw ?? {});
      return s.commitLayer(container, commitBody.parse(rest), meta);
    },
  },
};

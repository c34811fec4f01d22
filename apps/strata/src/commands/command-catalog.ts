import {
  assertRepositoryName,
  assertTag,
  fold,
  notFound,
  parseRepoTag,
  repositoryDecider,
  repositoryStreamId,
  type Decider,
  type DomainEvent,
} from '@strata/domain';
import type { EventStore } from '@strata/eventstore';
import { z } from 'zod';

/**
 * Every command the node accepts, by name: the shape of its input, the aggregate that decides it and
 * the stream it goes to. HTTP routes and (later) the NATS gateway both execute commands from here, so
 * they validate the same way and answer with the same codes.
 */
export interface CommandSpec<Input = any, Command = any> {
  name: string;
  summary: string;
  input: z.ZodType<Input>;
  decider: Decider<any, Command, DomainEvent>;
  /** Turns validated input into the domain command; may read the log (e.g. resolve a `repo:tag` source). */
  prepare(input: Input, store: EventStore): Promise<Command>;
  streamId(command: Command): string;
}

const visibility = z.enum(['public', 'private']);
const repoName = z.string().min(1).max(255);

const createRepository = {
  name: 'CreateRepository',
  summary: 'Create a repository (names like Docker: lowercase path components).',
  input: z.object({ name: repoName, visibility: visibility.default('private') }).strict(),
  decider: repositoryDecider,
  prepare: async (i: { name: string; visibility: 'public' | 'private' }) => ({ type: 'CreateRepository', ...i }),
  streamId: (c: { name: string }) => repositoryStreamId(c.name),
} satisfies CommandSpec;

const tagImage = {
  name: 'TagImage',
  summary: 'Point a tag at an image digest, or at what another tag points to (source "repo:tag").',
  input: z
    .object({ name: repoName, tag: z.string(), digest: z.string().optional(), source: z.string().optional() })
    .strict()
    .refine((i) => (i.digest === undefined) !== (i.source === undefined), { message: 'give exactly one of digest or source' }),
  decider: repositoryDecider,
  prepare: async (i: { name: string; tag: string; digest?: string; source?: string }, store: EventStore) => ({
    type: 'TagImage',
    name: i.name,
    tag: i.tag,
    digest: i.digest ?? (await resolveTag(i.source!, store)),
  }),
  streamId: (c: { name: string }) => repositoryStreamId(c.name),
} satisfies CommandSpec;

const untagImage = {
  name: 'UntagImage',
  summary: 'Remove a tag.',
  input: z.object({ name: repoName, tag: z.string() }).strict(),
  decider: repositoryDecider,
  prepare: async (i: { name: string; tag: string }) => ({ type: 'UntagImage', ...i }),
  streamId: (c: { name: string }) => repositoryStreamId(c.name),
} satisfies CommandSpec;

const setVisibility = {
  name: 'SetRepositoryVisibility',
  summary: 'Make a repository public or private.',
  input: z.object({ name: repoName, visibility }).strict(),
  decider: repositoryDecider,
  prepare: async (i: { name: string; visibility: 'public' | 'private' }) => ({ type: 'SetRepositoryVisibility', ...i }),
  streamId: (c: { name: string }) => repositoryStreamId(c.name),
} satisfies CommandSpec;

const deleteRepository = {
  name: 'DeleteRepository',
  summary: 'Delete a repository; refused while it has tags unless force.',
  input: z.object({ name: repoName, force: z.boolean().default(false) }).strict(),
  decider: repositoryDecider,
  prepare: async (i: { name: string; force: boolean }) => ({ type: 'DeleteRepository', ...i }),
  streamId: (c: { name: string }) => repositoryStreamId(c.name),
} satisfies CommandSpec;

export const COMMAND_CATALOG: Record<string, CommandSpec> = Object.fromEntries(
  [createRepository, tagImage, untagImage, setVisibility, deleteRepository].map((s) => [s.name, s as CommandSpec]),
);

/** Reads the source repository from the log itself (not a read model): what the tag points to now. */
async function resolveTag(source: string, store: EventStore): Promise<string> {
  const { name, tag } = parseRepoTag(source);
  assertRepositoryName(name);
  assertTag(tag);
  const state = fold(repositoryDecider, (await store.readStream(repositoryStreamId(name))) as never[]);
  const digest = state.status === 'active' ? state.tags[tag] : undefined;
  if (!digest) throw notFound('TAG_NOT_FOUND', `source tag "${name}:${tag}" does not exist`, { name, tag });
  return digest;
}

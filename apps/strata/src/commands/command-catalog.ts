import type { ImageView } from '@strata/api';
import {
  assertDigest,
  assertRepositoryName,
  assertTag,
  buildDecider,
  buildStreamId,
  containerDecider,
  containerNameDecider,
  containerNameStreamId,
  containerStreamId,
  imageDecider,
  imageStreamId,
  mirrorDecider,
  mirrorStreamId,
  notFound,
  parseRepoTag,
  principalDecider,
  principalStreamId,
  repositoryDecider,
  repositoryStreamId,
  type BuildCommand,
  type ContainerCommand,
  type ContainerNameCommand,
  type Decider,
  type DomainEvent,
  type ImageCommand,
  type ImageCreatedData,
} from '@strata/domain';
import type { EventStore } from '@strata/eventstore';
import { z } from 'zod';
import { NODE_COMMANDS } from '../cluster/node-commands.js';

/** What a command's prepare() may consult: the log itself, and the images the read models know. */
export interface CommandContext {
  store: EventStore;
  /**
   * A stream's state as of now, read from the log (as fresh as folding a full readStream, but read
   * only from the version the command path's cache of folded states already has).
   */
  readState<S>(streamId: string, decider: Decider<S, any, any>): Promise<S>;
  /** Resolves "repo:tag", a digest or an id prefix to an image (IMAGE_NOT_FOUND otherwise). */
  resolveImage(reference: string): Promise<ImageView>;
  /** True when the content store has the blob (an image is recorded only over blobs that are there). */
  hasBlob(digest: string): Promise<boolean>;
  /** Live containers made from the image (they keep it from being removed). */
  containersUsingImage(manifestDigest: string): Promise<string[]>;
}

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
  prepare(input: Input, context: CommandContext): Promise<Command>;
  streamId(command: Command): string;
  /** Recorded by the node itself (import, load, commit), never sent by clients directly. */
  internal?: boolean;
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

type TagImageInput = { name: string; tag: string; digest?: string; source?: string; image?: string };
const tagImage = {
  name: 'TagImage',
  summary: 'Point a tag at an image: its manifest digest, any image reference ("image"), or what another tag points to ("source").',
  input: z
    .object({ name: repoName, tag: z.string(), digest: z.string().optional(), source: z.string().optional(), image: z.string().optional() })
    .strict()
    .refine((i) => [i.digest, i.source, i.image].filter((x) => x !== undefined).length === 1, {
      message: 'give exactly one of digest, image or source',
    }),
  decider: repositoryDecider,
  prepare: async (i: TagImageInput, context: CommandContext) => {
    // The cheap checks of the input first, then the lookups.
    assertRepositoryName(i.name);
    assertTag(i.tag);
    const digest =
      i.digest !== undefined
        ? assertDigest(i.digest)
        : i.source !== undefined
          ? await resolveTag(i.source, context)
          : (await context.resolveImage(i.image!)).manifestDigest;
    await requireImage(digest, context);
    return { type: 'TagImage', name: i.name, tag: i.tag, digest };
  },
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

const createImage = {
  name: 'CreateImage',
  summary: 'Record an image whose blobs are in the content store (done by import, load, commit and pull).',
  input: z.object({ image: z.custom<ImageCreatedData>((v) => typeof v === 'object' && v !== null) }).strict(),
  decider: imageDecider,
  internal: true,
  prepare: async (i: { image: ImageCreatedData }, context: CommandContext): Promise<ImageCommand> => {
    for (const digest of [i.image.manifestDigest, i.image.imageId, ...i.image.layers.map((l) => l.digest)]) {
      if (!(await context.hasBlob(assertDigest(digest)))) {
        throw notFound('BLOB_UNKNOWN', `blob ${digest} is not in the content store: an image is recorded only over its blobs`, { digest });
      }
    }
    return { type: 'CreateImage', image: i.image };
  },
  streamId: (c: { image: ImageCreatedData }) => imageStreamId(c.image.manifestDigest),
} satisfies CommandSpec;

type RemoveImageInput = { image: string; force: boolean; untagged: string[] };
const removeImage = {
  name: 'RemoveImage',
  summary: 'Delete an image; refused while tagged (unless force, after untagging) or used by a container.',
  input: z.object({ image: z.string().min(1), force: z.boolean().default(false), untagged: z.array(z.string()).default([]) }).strict(),
  decider: imageDecider,
  prepare: async (i: RemoveImageInput, context: CommandContext): Promise<ImageCommand> => {
    const image = await context.resolveImage(i.image);
    const containers = await context.containersUsingImage(image.manifestDigest);
    return { type: 'RemoveImage', manifestDigest: image.manifestDigest, force: i.force, tags: image.tags, containers, untagged: i.untagged };
  },
  streamId: (c: { manifestDigest: string }) => imageStreamId(c.manifestDigest),
} satisfies CommandSpec;

/**
 * Container commands record what the node did (runc, the snapshotter): ContainersService checks the
 * transition, performs the side effect and then executes these. The domain validates them again.
 */
const containerSpec = (name: ContainerCommand['type'], summary: string): CommandSpec => ({
  name,
  summary,
  internal: true,
  input: z.custom<Omit<ContainerCommand, 'type'>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v)),
  decider: containerDecider,
  prepare: async (i: object) => ({ ...i, type: name }),
  streamId: (c: { id?: string; container?: { id: string } }) => containerStreamId(c.id ?? c.container?.id ?? ''),
});
const containerNameSpec = (name: ContainerNameCommand['type'], summary: string): CommandSpec => ({
  name,
  summary,
  internal: true,
  input: z.object({ name: z.string(), containerId: z.string() }).strict(),
  decider: containerNameDecider,
  prepare: async (i: object) => ({ ...i, type: name }),
  streamId: (c: { name: string }) => containerNameStreamId(c.name),
});
const containerCommands = [
  containerSpec('CreateContainer', 'Record a created container (its writable layer is prepared).'),
  containerSpec('StartContainer', 'Record a started process.'),
  containerSpec('RecordContainerExit', 'Record how the process ended.'),
  containerSpec('PauseContainer', 'Record a paused container.'),
  containerSpec('UnpauseContainer', 'Record an unpaused container.'),
  containerSpec('KillContainer', 'Record a signal sent.'),
  containerSpec('RenameContainer', 'Record a new name.'),
  containerSpec('RecordFilesChanged', 'Record changes of the writable layer.'),
  containerSpec('RequestCommit', 'Record a commit whose layer is in the content store (finished on restart if cut short).'),
  containerSpec('RecordCommit', 'Record that the writable layer became an image.'),
  containerSpec('RemoveContainer', 'Record a removed container (its writable layer is gone).'),
  containerNameSpec('ReserveContainerName', 'Hold a container name.'),
  containerNameSpec('ReleaseContainerName', 'Free a container name.'),
];

/** Principals are made by POST /tokens (which mints the token outside the log): never sent by name. */
const principalSpec = (name: 'CreatePrincipal' | 'ChangePrincipalGrants' | 'RevokePrincipal', summary: string): CommandSpec => ({
  name,
  summary,
  internal: true,
  input: z.object({ name: z.string(), grants: z.array(z.string()).optional() }).strict(),
  decider: principalDecider,
  prepare: async (i: { name: string; grants?: string[] }) => ({ ...i, grants: i.grants ?? [], type: name }),
  streamId: (c: { name: string }) => principalStreamId(c.name),
});
const principalCommands = [
  principalSpec('CreatePrincipal', 'Record a principal and its grants (its token is hashed outside the log).'),
  principalSpec('ChangePrincipalGrants', "Replace a principal's grants."),
  principalSpec('RevokePrincipal', 'Revoke a principal: its tokens stop working.'),
];

/** A build's record (BuildsService runs the steps and records them here, in order). */
const buildSpec = (name: BuildCommand['type'], summary: string): CommandSpec => ({
  name,
  summary,
  internal: true,
  input: z.custom<Omit<BuildCommand, 'type'>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v)),
  decider: buildDecider,
  prepare: async (i: object) => ({ ...i, type: name }),
  streamId: (c: { buildId: string }) => buildStreamId(c.buildId),
});
/** Mirrors are added by POST /mirrors (which keeps their credentials outside the log): never sent by name. */
const mirrorSpec = (name: 'AddMirror' | 'RemoveMirror', summary: string): CommandSpec => ({
  name,
  summary,
  internal: true,
  input: z.object({ id: z.string(), source: z.string().optional(), repository: z.string().optional(), localRepository: z.string().optional() }).strict(),
  decider: mirrorDecider,
  prepare: async (i: object) => ({ ...i, type: name }),
  streamId: (c: { id: string }) => mirrorStreamId(c.id),
});
const mirrorCommands = [
  mirrorSpec('AddMirror', "Follow a repository of another node's registry (its credentials are kept outside the log)."),
  mirrorSpec('RemoveMirror', 'Stop following a mirrored repository.'),
];

const buildCommands = [
  buildSpec('StartBuild', 'Record a build started: its context, Dockerfile and arguments.'),
  buildSpec('CompleteBuildStep', 'Record one step of a build done (or taken from the cache).'),
  buildSpec('CompleteBuild', 'Record a build finished with its image.'),
  buildSpec('FailBuild', 'Record a build failed at a step.'),
];

export const COMMAND_CATALOG: Record<string, CommandSpec> = Object.fromEntries(
  [createRepository, tagImage, untagImage, setVisibility, deleteRepository, createImage, removeImage, ...containerCommands, ...principalCommands, ...mirrorCommands, ...buildCommands, ...NODE_COMMANDS].map((s) => [
    s.name,
    s as CommandSpec,
  ]),
);

/** Tags point only at images the log knows and has not deleted (read from the log, not a projection). */
async function requireImage(manifestDigest: string, context: CommandContext): Promise<void> {
  const state = await context.readState(imageStreamId(manifestDigest), imageDecider);
  if (state.status !== 'active') {
    throw notFound('IMAGE_NOT_FOUND', `no image with manifest digest ${manifestDigest}: import, load or pull it first`, { digest: manifestDigest });
  }
}

/** Reads the source repository from the log itself (not a read model): what the tag points to now. */
async function resolveTag(source: string, context: CommandContext): Promise<string> {
  const { name, tag } = parseRepoTag(source);
  assertRepositoryName(name);
  assertTag(tag);
  const state = await context.readState(repositoryStreamId(name), repositoryDecider);
  const digest = state.status === 'active' ? state.tags[tag] : undefined;
  if (!digest) throw notFound('TAG_NOT_FOUND', `source tag "${name}:${tag}" does not exist`, { name, tag });
  return digest;
}

import { z } from 'zod';
import { isDigest } from '../content/digest.js';
import { layerInvalid, type LayerErrorCode } from '../errors.js';
import { isConfigMediaType, isIndexMediaType, isManifestMediaType } from './media-types.js';

// Schemas of the OCI image spec's JSON documents (image-spec v1.1), which also accept Docker's v2
// schema 2 equivalents. Descriptors are strict (unknown keys dropped: we re-emit them); configs keep
// unknown keys (Docker's container_config, docker_version…) so a child image built on one keeps them.

const digest = z.string().refine(isDigest, 'not a sha256 digest ("sha256:" and 64 lowercase hex digits)');
const stringMap = z.record(z.string(), z.string());

export const platformSchema = z.object({
  architecture: z.string().min(1),
  os: z.string().min(1),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
  features: z.array(z.string()).optional(),
});

export const descriptorSchema = z.object({
  mediaType: z.string().min(1),
  digest,
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  urls: z.array(z.string()).optional(),
  annotations: stringMap.optional(),
  platform: platformSchema.optional(),
  artifactType: z.string().optional(),
});

export const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: stringMap.optional(),
});

export const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: stringMap.optional(),
});

// Docker writes null for an empty list or map; OCI omits it. Both are accepted.
const nullableList = z.array(z.string()).nullable().optional();
const nullableSet = z.record(z.string(), z.looseObject({})).nullable().optional();

export const containerConfigSchema = z.looseObject({
  User: z.string().optional(),
  ExposedPorts: nullableSet,
  Env: nullableList,
  Entrypoint: nullableList,
  Cmd: nullableList,
  Volumes: nullableSet,
  WorkingDir: z.string().optional(),
  Labels: stringMap.nullable().optional(),
  StopSignal: z.string().optional(),
  ArgsEscaped: z.boolean().optional(),
  OnBuild: nullableList,
  Shell: nullableList,
});

export const historySchema = z.looseObject({
  created: z.string().optional(),
  created_by: z.string().optional(),
  author: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
});

export const imageConfigSchema = z.looseObject({
  created: z.string().optional(),
  author: z.string().optional(),
  architecture: z.string().min(1),
  os: z.string().min(1),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
  config: containerConfigSchema.nullable().optional(),
  rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(digest) }),
  history: z.array(historySchema).nullable().optional(),
});

export type Platform = z.infer<typeof platformSchema>;
export type Descriptor = z.infer<typeof descriptorSchema>;
export type ImageManifest = z.infer<typeof manifestSchema>;
export type ImageIndex = z.infer<typeof indexSchema>;
export type ContainerConfig = z.infer<typeof containerConfigSchema>;
export type HistoryEntry = z.infer<typeof historySchema>;
export type ImageConfig = z.infer<typeof imageConfigSchema>;

/** JSON text (bytes or string) or an already parsed value. */
export type JsonInput = Uint8Array | string | object;

export function parseManifest(input: JsonInput): ImageManifest {
  const value = parseJson(input, 'MANIFEST_INVALID', 'manifest');
  if (isObject(value) && value.schemaVersion === 1) throw layerInvalid('UNSUPPORTED_MEDIA_TYPE', 'Docker image manifest schema 1 is not supported (pull or save it again with a current Docker)');
  checkMediaType(value, 'manifest', isManifestMediaType, isIndexMediaType, 'an image index, not a manifest');
  return validate(manifestSchema, value, 'MANIFEST_INVALID', 'manifest');
}

export function parseIndex(input: JsonInput): ImageIndex {
  const value = parseJson(input, 'INDEX_INVALID', 'image index');
  checkMediaType(value, 'image index', isIndexMediaType, isManifestMediaType, 'an image manifest, not an index');
  return validate(indexSchema, value, 'INDEX_INVALID', 'image index');
}

export function parseImageConfig(input: JsonInput): ImageConfig {
  return validate(imageConfigSchema, parseJson(input, 'CONFIG_INVALID', 'image config'), 'CONFIG_INVALID', 'image config');
}

/** The config media types we can read as an image config (an artifact's config is something else). */
export function checkConfigDescriptor(descriptor: Descriptor): void {
  if (!isConfigMediaType(descriptor.mediaType)) {
    throw layerInvalid('UNSUPPORTED_MEDIA_TYPE', `config ${descriptor.digest} has media type ${descriptor.mediaType}, not an image config`, { mediaType: descriptor.mediaType });
  }
}

function parseJson(input: JsonInput, code: LayerErrorCode, what: string): unknown {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) return input;
  const text = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw layerInvalid(code, `${what} is not JSON: ${(error as Error).message}`);
  }
}

function checkMediaType(value: unknown, what: string, accepts: (m: string) => boolean, other: (m: string) => boolean, otherMessage: string): void {
  if (!isObject(value) || value.mediaType === undefined || typeof value.mediaType !== 'string') return;
  if (accepts(value.mediaType)) return;
  const reason = other(value.mediaType) ? otherMessage : `media type ${value.mediaType}`;
  throw layerInvalid('UNSUPPORTED_MEDIA_TYPE', `${what} is ${reason}`, { mediaType: value.mediaType });
}

function validate<T>(schema: z.ZodType<T>, value: unknown, code: LayerErrorCode, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 3).map((issue) => `${issue.path.map(String).join('.') || '(top)'}: ${issue.message}`);
  throw layerInvalid(code, `invalid ${what}: ${issues.join('; ')}`, { issues: result.error.issues.slice(0, 10) });
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

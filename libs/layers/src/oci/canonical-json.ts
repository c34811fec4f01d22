/**
 * Keys that come first, in this order, wherever they appear; every other key follows alphabetically.
 * This gives the conventional look of OCI documents (schemaVersion, mediaType, config, layers…) and,
 * above all, the same bytes (hence the same digest) for the same content, whatever order it was built in.
 */
const LEADING_KEYS = [
  'schemaVersion',
  'mediaType',
  'artifactType',
  'config',
  'layers',
  'manifests',
  'digest',
  'size',
  'urls',
  'platform',
  'created',
  'created_by',
  'author',
  'architecture',
  'os',
  'os.version',
  'os.features',
  'variant',
  'rootfs',
  'type',
  'diff_ids',
  'history',
  'comment',
  'empty_layer',
  'subject',
];
const RANK = new Map(LEADING_KEYS.map((key, index) => [key, index]));

function compareKeys(a: string, b: string): number {
  const ra = RANK.get(a) ?? Infinity;
  const rb = RANK.get(b) ?? Infinity;
  if (ra !== rb) return ra - rb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function ordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : ordered(item)));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort(compareKeys)) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined) out[key] = ordered(item);
  }
  return out;
}

/** Compact JSON with a fixed key order: the bytes we hash and store for documents we create. */
export function canonicalJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(ordered(value)), 'utf8');
}

/**
 * `strata ps --filter key=value`, applied here to the node's list as `docker ps` applies them: values of
 * the same key are alternatives (status=exited --filter status=created), different keys must all match.
 */
import type { ContainerStatus, ContainerView } from '@strata/api';
import { UsageError } from '../errors.js';

const STATUSES: readonly ContainerStatus[] = ['created', 'running', 'paused', 'exited', 'removed'];
const KEYS = ['status', 'name', 'ancestor', 'id', 'label', 'exited'] as const;
type Key = (typeof KEYS)[number];

export type ContainerFilters = Partial<Record<Key, string[]>>;

export function parseContainerFilters(specs: readonly string[]): ContainerFilters {
  const filters: ContainerFilters = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0 || eq === spec.length - 1) throw new UsageError(`--filter "${spec}": expected key=value`);
    const key = spec.slice(0, eq) as Key;
    const value = spec.slice(eq + 1);
    if (!KEYS.includes(key)) throw new UsageError(`--filter "${spec}": unknown key "${key}" (use ${KEYS.join(', ')})`);
    if (key === 'status' && !(STATUSES as readonly string[]).includes(value)) {
      throw new UsageError(`--filter "${spec}": status is one of ${STATUSES.join(', ')}`);
    }
    if (key === 'exited' && !/^-?\d+$/.test(value)) throw new UsageError(`--filter "${spec}": exited takes an exit code`);
    if (key === 'name') nameMatcher(value); // a bad pattern is a usage error before anything is sent
    filters[key] = [...(filters[key] ?? []), value];
  }
  return filters;
}

/** Filters that ask for stopped containers imply --all, as in `docker ps --filter status=exited`. */
export const needsAll = (filters: ContainerFilters): boolean => filters.status !== undefined || filters.exited !== undefined;

/** Docker matches names with a regular expression (`name=^web` for names starting with web). */
function nameMatcher(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch {
    throw new UsageError(`--filter name=${pattern}: not a valid regular expression`);
  }
}

const hexOf = (id: string): string => id.replace(/^sha256:/, '');

/**
 * The image a container was created from, by the reference it was given (`busybox` also matches
 * `busybox:latest`), its id or an id prefix, or its manifest digest. Images built on top of it are
 * not matched: the list does not carry the image's parents.
 */
function isAncestor(container: ContainerView, value: string): boolean {
  const { reference, imageId, manifestDigest } = container.image;
  const withTag = value.lastIndexOf(':') > value.lastIndexOf('/') || value.includes('@') ? value : `${value}:latest`;
  if (reference === value || reference === withTag || manifestDigest === value) return true;
  const hex = hexOf(value);
  return /^[0-9a-f]{4,64}$/.test(hex) && hexOf(imageId).startsWith(hex);
}

function matchesLabel(container: ContainerView, spec: string): boolean {
  const eq = spec.indexOf('=');
  if (eq < 0) return Object.hasOwn(container.config.labels, spec);
  return container.config.labels[spec.slice(0, eq)] === spec.slice(eq + 1);
}

const tests: Record<Key, (container: ContainerView, value: string) => boolean> = {
  status: (c, v) => c.status === v,
  name: (c, v) => nameMatcher(v).test(c.name),
  ancestor: isAncestor,
  id: (c, v) => c.id.startsWith(v),
  label: matchesLabel,
  exited: (c, v) => c.status === 'exited' && c.exitCode === Number(v),
};

export function matchesContainerFilters(filters: ContainerFilters, container: ContainerView): boolean {
  return KEYS.every((key) => {
    const values = filters[key];
    return values === undefined || values.some((value) => tests[key](container, value));
  });
}

import { isRepositoryName, isTag } from '../routes.js';
import { RegistryClientError } from './errors.js';

/** A reference to an image in a remote registry: `registry[:port]/name(:tag|@digest)`. */
export interface RemoteReference {
  /** `host[:port]` as written (lowercased); `docker.io` when the reference named no registry. */
  registry: string;
  /** The repository inside it: `demo/app`, `library/busybox`. */
  repository: string;
  /** Exactly one of tag and digest is set. */
  tag?: string;
  digest?: string;
}

export const DOCKER_HUB = 'docker.io';
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/**
 * Docker's rule (distribution/reference): the first path component is a registry when it has a '.'
 * or a ':' or is `localhost`; otherwise the reference is on Docker Hub, and a one-component name
 * there is under `library/`. The tag defaults to `latest`.
 */
export function parseRemoteReference(text: string): RemoteReference {
  const bad = (why: string) =>
    new RegistryClientError('INVALID_REFERENCE', `"${text}" is not an image reference (${why}); write registry/name:tag or registry/name@sha256:…`, undefined, {
      reference: text,
    });
  if (typeof text !== 'string' || text.length === 0 || text.length > 512 || /\s/.test(text)) throw bad('empty, too long or with spaces');
  if (/^[a-z]+:\/\//i.test(text)) throw bad('no URL scheme: a registry is named by host[:port]');
  let rest = text;
  let registry = DOCKER_HUB;
  const slash = text.indexOf('/');
  if (slash > 0) {
    const first = text.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')) {
      registry = first.toLowerCase();
      rest = text.slice(slash + 1);
      if (!/^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:[0-9]{1,5})?$/.test(registry)) throw bad(`"${first}" is not a host[:port]`);
    }
  }
  let digest: string | undefined;
  let tag: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad('the part after "@" must be sha256: and 64 lowercase hex digits');
  }
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isTag(tag)) throw bad(`invalid tag "${tag}"`);
  }
  if (registry === DOCKER_HUB && !rest.includes('/')) rest = `library/${rest}`;
  if (!isRepositoryName(rest)) throw bad(`invalid repository name "${rest}"`);
  // A digest wins over a tag (name:tag@digest is pinned by the digest, as in Docker).
  return digest ? { registry, repository: rest, digest } : { registry, repository: rest, tag: tag ?? 'latest' };
}

/** `registry/name:tag` or `registry/name@digest`. */
export function formatRemoteReference(ref: RemoteReference): string {
  return `${ref.registry}/${ref.repository}${ref.digest ? `@${ref.digest}` : `:${ref.tag ?? 'latest'}`}`;
}

/** The host part of `host[:port]` (without the brackets of an IPv6 literal). */
export function registryHost(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const colon = registry.lastIndexOf(':');
  return colon >= 0 ? registry.slice(0, colon) : registry;
}

/** Loopback registries are spoken to over plain HTTP, as Docker does for `localhost`; every other one over HTTPS unless told otherwise. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registryHost(registry);
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The base URL of a registry: Docker Hub's API lives at registry-1.docker.io. */
export function registryBaseUrl(registry: string, options: { insecure?: boolean } = {}): string {
  const scheme = options.insecure || isLoopbackRegistry(registry) ? 'http' : 'https';
  const host = registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
  return `${scheme}://${host}`;
}

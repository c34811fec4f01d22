import { formatPlatform, isManifestMediaType, platformMatches, type Descriptor, type Platform } from '@strata/layers';
import { RegistryClientError } from './errors.js';

/** `linux/amd64`, `linux/arm64/v8` → a Platform; INVALID_REFERENCE when it is not os/arch[/variant]. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw new RegistryClientError('INVALID_REFERENCE', `"${text}" is not a platform: write os/architecture[/variant], e.g. linux/amd64`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant ? { os, architecture, variant } : { os, architecture };
}

/**
 * The manifest of an index to pull for `wanted`, as containerd chooses: only image manifests (an
 * attestation's `unknown/unknown` entry is never an image), whose platform matches; an exact variant
 * beats a variant-less entry; among equals, the index's order. PLATFORM_NOT_FOUND lists what there is.
 */
export function choosePlatformManifest(manifests: readonly Descriptor[], wanted: Platform): Descriptor {
  const candidates = manifests.filter((m) => isManifestMediaType(m.mediaType) && platformMatches(m.platform, wanted));
  const exact = candidates.find((m) => (m.platform?.variant ?? undefined) === (wanted.variant ?? undefined));
  const chosen = exact ?? candidates[0];
  if (chosen) return chosen;
  const offered = manifests.filter((m) => m.platform).map((m) => formatPlatform(m.platform!));
  throw new RegistryClientError(
    'PLATFORM_NOT_FOUND',
    `the image index has no manifest for ${formatPlatform(wanted)} (it has: ${offered.join(', ') || 'no platforms'})`,
    undefined,
    { wanted: formatPlatform(wanted), offered },
  );
}

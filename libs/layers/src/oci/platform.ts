import { endianness } from 'node:os';
import type { Platform } from './schemas.js';

/** Node's process.arch in the GOARCH spelling OCI uses (image-spec, "Platform"). */
export function ociArchitecture(arch: string = process.arch): { architecture: string; variant?: string } {
  switch (arch) {
    case 'x64':
      return { architecture: 'amd64' };
    case 'ia32':
      return { architecture: '386' };
    case 'arm64':
      return { architecture: 'arm64', variant: 'v8' };
    case 'arm': {
      const version = (process.config.variables as { arm_version?: string }).arm_version;
      return { architecture: 'arm', variant: version ? `v${version}` : undefined };
    }
    case 'ppc64':
      return { architecture: endianness() === 'LE' ? 'ppc64le' : 'ppc64' };
    case 'mips64el':
      return { architecture: 'mips64le' };
    default:
      return { architecture: arch }; // s390x, riscv64, loong64, mips… are spelt the same
  }
}

/** The platform this node runs images for: Linux on the host's CPU. */
export function hostPlatform(): Platform {
  const { architecture, variant } = ociArchitecture();
  return variant ? { os: 'linux', architecture, variant } : { os: 'linux', architecture };
}

/** "linux/arm64/v8" */
export function formatPlatform(platform: Pick<Platform, 'os' | 'architecture' | 'variant'>): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/**
 * Whether an index entry's platform can run where `wanted` is. os and architecture must be equal; a
 * variant only narrows: arm64 without a variant means v8, and an entry without a variant matches.
 */
export function platformMatches(entry: Platform | undefined, wanted: Platform): boolean {
  if (!entry || entry.os !== wanted.os || entry.architecture !== wanted.architecture) return false;
  const normalize = (p: Platform) => p.variant ?? (p.architecture === 'arm64' ? 'v8' : undefined);
  const entryVariant = normalize(entry);
  return entryVariant === undefined || normalize(wanted) === undefined || entryVariant === normalize(wanted);
}

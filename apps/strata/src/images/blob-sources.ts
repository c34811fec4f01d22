import { Injectable } from '@nestjs/common';

/**
 * Which repositories of a registry this node has seen holding a blob (it pulled the blob from there or
 * pushed it there), so a push to another repository of the same registry asks for a cross-repository
 * mount instead of uploading the bytes again (Docker keeps the same "distribution metadata").
 * In memory: losing it costs an upload, never correctness (the registry decides whether a mount works).
 */
@Injectable()
export class BlobSources {
  private readonly byRegistry = new Map<string, Map<string, string>>();
  private static readonly MAX_PER_REGISTRY = 100_000;

  remember(registry: string, repository: string, digests: Iterable<string>): void {
    let known = this.byRegistry.get(registry);
    if (!known) this.byRegistry.set(registry, (known = new Map()));
    for (const digest of digests) {
      known.delete(digest);
      known.set(digest, repository); // the most recent source last
      if (known.size > BlobSources.MAX_PER_REGISTRY) known.delete(known.keys().next().value!);
    }
  }

  sourceOf(registry: string, digest: string): string | undefined {
    return this.byRegistry.get(registry)?.get(digest);
  }
}

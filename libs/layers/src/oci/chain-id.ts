import { parseDigest, sha256Digest } from '../content/digest.js';

/**
 * The chainID of each layer of a stack (OCI image-spec, "Layer ChainID"): chainID(0) = diffID(0),
 * chainID(n) = sha256(chainID(n-1) + " " + diffID(n)). It names a layer *together with everything
 * under it*, which is what an unpacked snapshot is.
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    parseDigest(diffId);
    const previous = out.at(-1);
    out.push(previous === undefined ? diffId : sha256Digest(`${previous} ${diffId}`));
  }
  return out;
}

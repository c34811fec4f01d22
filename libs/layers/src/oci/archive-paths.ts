import { layerInvalid } from '../errors.js';
import { parseDigest } from '../content/digest.js';

/**
 * A file name from an archive (a tar entry, a path in manifest.json) as a clean relative path:
 * "./a//b/" → "a/b". UNSAFE_PATH for an absolute path, a `..` component or a NUL byte, whether or not
 * it would stay inside: an image archive has no reason to contain one.
 */
export function archivePath(name: string): string {
  if (name.includes('\0')) throw layerInvalid('UNSAFE_PATH', `archive file name contains a NUL byte: ${JSON.stringify(name)}`);
  if (name.startsWith('/')) throw layerInvalid('UNSAFE_PATH', `archive file name is absolute: ${JSON.stringify(name)}`, { path: name });
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw layerInvalid('UNSAFE_PATH', `archive file name climbs out with "..": ${JSON.stringify(name)}`, { path: name });
  return parts.join('/');
}

/** Where a link at `from` pointing to `target` leads, inside the archive; LINK_ESCAPE if outside it. */
export function linkTarget(from: string, target: string, kind: 'symlink' | 'link'): string {
  if (target.startsWith('/')) throw layerInvalid('LINK_ESCAPE', `archive ${kind} ${from} points to an absolute path ${target}`, { path: from, target });
  // Hard link names are relative to the archive root, symlinks to the link's own directory.
  const base = kind === 'link' ? [] : from.split('/').slice(0, -1);
  const parts = [...base];
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..') parts.push(part);
    else if (parts.length > 0) parts.pop();
    else throw layerInvalid('LINK_ESCAPE', `archive ${kind} ${from} points outside the archive: ${target}`, { path: from, target });
  }
  return parts.join('/');
}

/** `blobs/sha256/<hex>`: where an OCI layout keeps the blob with this digest. */
export function blobPath(digest: string): string {
  return `blobs/sha256/${parseDigest(digest).hex}`;
}

/** The digest an archive path names, if it names one: `blobs/sha256/<hex>`, or docker save's `<hex>.json` config. */
export function digestNamedBy(path: string): string | undefined {
  const blob = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(path);
  if (blob) return `sha256:${blob[1]}`;
  const config = /^([a-f0-9]{64})\.json$/.exec(path);
  return config ? `sha256:${config[1]}` : undefined;
}

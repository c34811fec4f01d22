/**
 * A change in a filesystem relative to its parent, as `docker diff` shows it and as a layer tar
 * records it: A(dded), C(hanged), D(eleted). Paths are absolute inside the root ("/etc/motd").
 */
export type ChangeKind = 'A' | 'C' | 'D';
export type FileType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'other';

export interface Change {
  kind: ChangeKind;
  path: string;
  /** What the path is now (for D: what it was, when known). */
  type?: FileType;
  /** A directory that replaced one of the parent's: the parent's children are all hidden (`.wh..wh..opq`). */
  opaque?: boolean;
}

/** How deletions are written into a writable directory: overlayfs' whiteouts, or real deletion. */
export type WhiteoutStyle = 'overlay' | 'native';

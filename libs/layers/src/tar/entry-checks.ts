import type { Header } from 'tar-stream';
import { layerInvalid } from '../errors.js';
import {
  ancestorsOf,
  checkSymlinkTarget,
  normalizeEntryPath,
  normalizeHardlinkTarget,
  ROOT_PATH,
  whiteoutOf,
} from './entry-paths.js';
import type { LayerEntryHeader, LayerEntryType, SetuidPolicy } from './layer-entry.js';

const SETUID = 0o4000;
const SETGID = 0o2000;

/**
 * Turns tar headers into checked, normalized entries, remembering what the layer has said so far so
 * that a path twice, or a path under something that is not a directory, is caught.
 */
export class EntryChecker {
  private readonly seen = new Map<string, LayerEntryType>();

  constructor(private readonly setuid: SetuidPolicy) {}

  /** The normalized entry, or undefined for one to skip silently (aufs bookkeeping). */
  check(header: Partial<Header> & { name: string; pax?: Record<string, string> | null }): LayerEntryHeader | undefined {
    const path = normalizeEntryPath(header.name);
    const type = entryType(header, path);
    const whiteout = whiteoutOf(path);
    if (whiteout === 'meta') return undefined;
    this.checkPlacement(path, type);
    const entry: LayerEntryHeader = {
      path,
      type,
      mode: this.checkMode(path, type, (header.mode ?? 0) & 0o7777),
      uid: paxNumber(header.pax?.uid) ?? header.uid ?? 0,
      gid: paxNumber(header.pax?.gid) ?? header.gid ?? 0,
      mtime: paxTime(header.pax?.mtime) ?? header.mtime ?? new Date(0),
      size: type === 'file' ? (header.size ?? 0) : 0,
    };
    if (whiteout) entry.whiteout = whiteout;
    if (type === 'symlink') {
      entry.linkname = header.linkname ?? '';
      checkSymlinkTarget(path, entry.linkname);
    } else if (type === 'hardlink') {
      entry.linkname = normalizeHardlinkTarget(path, header.linkname ?? '');
    }
    return entry;
  }

  private checkPlacement(path: string, type: LayerEntryType): void {
    if (this.seen.has(path)) {
      throw layerInvalid('DUPLICATE_ENTRY', `entry ${JSON.stringify(path)} appears twice in the layer`, { path });
    }
    if (path === ROOT_PATH && type !== 'dir') {
      throw layerInvalid('UNSAFE_PATH', `entry "./": the root can only be a directory, not a ${type}`, { path });
    }
    // A symlink ancestor is fine (it is followed inside the root); a file one makes no sense.
    for (const ancestor of ancestorsOf(path)) {
      const above = this.seen.get(ancestor);
      if (above !== undefined && above !== 'dir' && above !== 'symlink') {
        throw layerInvalid('UNSAFE_PATH', `entry ${JSON.stringify(path)}: ${JSON.stringify(ancestor)} is a ${above} in this layer`, { path });
      }
    }
    this.seen.set(path, type);
  }

  private checkMode(path: string, type: LayerEntryType, mode: number): number {
    const bits = mode & (SETUID | SETGID);
    if (bits === 0) return mode;
    const refuse = (why: string) =>
      layerInvalid('SETUID_NOT_ALLOWED', `entry ${JSON.stringify(path)}: ${why} (mode ${mode.toString(8)})`, { path, mode });
    if (type === 'symlink' || type === 'fifo') throw refuse(`setuid/setgid on a ${type}`);
    // setgid on a directory is how its children inherit the group: harmless, kept.
    const policed = type === 'dir' ? bits & SETUID : bits;
    if (policed === 0 || this.setuid === 'allow') return mode;
    if (this.setuid === 'strip') return mode & ~policed;
    throw refuse('setuid/setgid is not allowed here');
  }
}

function entryType(header: Partial<Header>, path: string): LayerEntryType {
  switch (header.type) {
    case 'file':
    case 'contiguous-file': // tar treats type 7 as a regular file
      return 'file';
    case 'directory':
      return 'dir';
    case 'symlink':
      return 'symlink';
    case 'link':
      // The header's mode of a hard link is the target's (GNU tar writes it): the policy sees a file.
      return 'hardlink';
    case 'fifo':
      return 'fifo';
    case 'character-device':
    case 'block-device':
      throw layerInvalid('DEVICE_NODE', `entry ${JSON.stringify(path)}: device nodes are never unpacked (${header.type})`, { path });
    default:
      throw layerInvalid('UNSUPPORTED_ENTRY', `entry ${JSON.stringify(path)}: unsupported tar entry type`, { path });
  }
}

/** pax carries what the ustar fields cannot hold: big ids, sub-second times. */
function paxNumber(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

function paxTime(value: string | undefined): Date | undefined {
  if (value === undefined || !/^-?\d+(\.\d+)?$/.test(value)) return undefined;
  return new Date(Math.floor(Number(value) * 1000));
}

import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** SQLite's companions of a database file (WAL, shared memory, rollback journal). */
const COMPANIONS = ['-wal', '-shm', '-journal'];

/** Removes a database file and its companions, if any. */
export async function removeDatabaseFiles(path: string): Promise<void> {
  await Promise.all(['', ...COMPANIONS].map((suffix) => rm(path + suffix, { force: true })));
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Starts an fsync of the file on libuv's thread pool and resolves once it is under way: it goes on while
 * this thread runs synchronous work (a bulk load's index sorts, checksums), so the fsync before a swap
 * finds little left to write (~250 ms for the 190 MB of a 200k-event build, written with synchronous
 * OFF). Only a head start: `done` never rejects, and durability still comes from replaceDatabaseFile.
 */
export async function startFlush(path: string): Promise<{ done: Promise<void> }> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return { done: Promise.resolve() };
  }
  const opened = handle;
  return { done: opened.sync().catch(() => {}).finally(() => opened.close().catch(() => {})) };
}

/**
 * Puts the (closed) database at `from` in the place of the (closed) one at `to`: fsync, then one
 * rename, so after a crash `to` is wholly the old file or wholly the new one. The old file's WAL and
 * shared memory go first: left behind, SQLite would replay the old WAL into the new file.
 */
export async function replaceDatabaseFile(from: string, to: string): Promise<void> {
  await fsync(from);
  await Promise.all(COMPANIONS.map((suffix) => rm(to + suffix, { force: true })));
  await rename(from, to);
  await fsync(dirname(to));
}

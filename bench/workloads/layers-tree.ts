/**
 * Workload 5 (layers): the file tree every contender packs, generated once per run from a seed.
 * Mixed sizes: one file of exactly 10 MiB (the union-view read), larger files of 1–10 MiB, and many
 * small ones (100 B – 64 KiB) spread over directories up to four levels deep, plus empty directories
 * and a few symlinks. Content is an AES-256-CTR keystream keyed by the seed: incompressible and
 * the same bytes on every machine for the same seed and size.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, symlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const MiB = 2 ** 20;
/** Path (inside the tree) of the 10 MiB file read through the union view. */
export const BIG_FILE = 'srv/data/blob-10m.bin';

export interface TreeInfo {
  /** Bytes of file content. */
  bytes: number;
  files: number;
  dirs: number;
  symlinks: number;
  bigFile: string;
}

/** mulberry32: a small seeded PRNG for the tree's shape (names, sizes, directories). */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes a tree of about `totalBytes` of content under `root` (which must not exist yet). */
export function generateTree(root: string, totalBytes: number, seed = 7): TreeInfo {
  const rand = prng(seed);
  const key = createHash('sha256').update(`strata-bench-layers/${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  const info: TreeInfo = { bytes: 0, files: 0, dirs: 0, symlinks: 0, bigFile: BIG_FILE };

  const dirs: string[] = [''];
  const mkdir = (rel: string) => {
    mkdirSync(join(root, rel), { recursive: true });
    info.dirs++;
    dirs.push(rel);
  };
  mkdirSync(root);
  // a few top-level directories, each with a tree up to four levels deep
  for (const top of ['etc', 'usr/lib', 'usr/share', 'srv/data', 'var/cache', 'opt/app']) {
    mkdir(top);
    const depth = 1 + Math.floor(rand() * 3);
    for (let branch = 0; branch < 4; branch++) {
      let path = top;
      for (let d = 0; d < depth; d++) {
        path = `${path}/d${branch}${String.fromCharCode(97 + Math.floor(rand() * 26))}`;
        mkdir(path);
      }
    }
  }
  mkdir('var/empty'); // stays empty
  const pickDir = () => dirs[1 + Math.floor(rand() * (dirs.length - 2))];

  const writeFile = (rel: string, size: number) => {
    const fd = openSync(join(root, rel), 'w', 0o644);
    try {
      for (let left = size; left > 0; ) {
        const n = Math.min(left, MiB);
        writeSync(fd, cipher.update(zeros.subarray(0, n)));
        left -= n;
      }
    } finally {
      closeSync(fd);
    }
    info.bytes += size;
    info.files++;
  };

  writeFile(BIG_FILE, 10 * MiB);
  // about a quarter of the bytes in small files, the rest in large ones
  const smallBudget = Math.max(MiB, Math.round(totalBytes * 0.25));
  const largeBudget = totalBytes - 10 * MiB - smallBudget;
  for (let i = 0, left = largeBudget; left >= MiB && i < 1000; i++) {
    const size = Math.min(left, MiB + Math.floor(rand() * 9 * MiB));
    writeFile(`${pickDir()}/large-${i}.bin`, size);
    left -= size;
  }
  for (let i = 0, left = smallBudget; left > 0 && i < 100_000; i++) {
    // log-uniform between 100 B and 64 KiB: many tiny files, some of tens of KiB
    const size = Math.min(left, Math.round(100 * Math.pow(655.36, rand())));
    writeFile(`${pickDir()}/f${i}.${['conf', 'so', 'txt', 'json', 'py'][i % 5]}`, size);
    left -= size;
  }
  for (let i = 0; i < 8; i++) {
    symlinkSync(`f${i}.txt`, join(root, pickDir(), `link-${i}`));
    info.symlinks++;
  }
  return info;
}

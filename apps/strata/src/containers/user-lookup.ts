import { invalid } from '@strata/domain';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * `user`, `uid`, `user:group`, `uid:gid` as Docker takes them, resolved against the container's own
 * /etc/passwd and /etc/group (never the host's). Empty means root.
 */
export async function resolveUser(rootfs: string, user: string): Promise<{ uid: number; gid: number }> {
  if (!user) return { uid: 0, gid: 0 };
  const [name, group] = user.split(':', 2) as [string, string | undefined];
  const passwd = await readTable(join(rootfs, 'etc/passwd'));
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(name)) {
    uid = Number(name);
    gid = Number(passwd.find((row) => row[2] === name)?.[3] ?? uid);
  } else {
    const row = passwd.find((r) => r[0] === name);
    if (!row) throw invalid('UNKNOWN_USER', `user "${name}" is not in the container's /etc/passwd`, { user });
    uid = Number(row[2]);
    gid = Number(row[3]);
  }
  if (group !== undefined) {
    if (/^\d+$/.test(group)) gid = Number(group);
    else {
      const row = (await readTable(join(rootfs, 'etc/group'))).find((r) => r[0] === group);
      if (!row) throw invalid('UNKNOWN_GROUP', `group "${group}" is not in the container's /etc/group`, { user });
      gid = Number(row[2]);
    }
  }
  return { uid, gid };
}

async function readTable(path: string): Promise<string[][]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
}

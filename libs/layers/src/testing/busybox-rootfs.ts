import { execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Where Debian's busybox-static puts its binary. The test harness installs it (scripts/ensure-system-deps.sh). */
export const BUSYBOX = '/bin/busybox';

const APPLETS = ['sh', 'echo', 'cat', 'ls', 'rm', 'mkdir', 'touch', 'sleep', 'true', 'false', 'env', 'id', 'ps', 'chmod', 'ln', 'stat', 'test'];

/**
 * A small real root filesystem: the static busybox binary, a few applet symlinks, /etc with a motd
 * and a passwd, an empty /tmp (1777) and /srv. Fails with a message naming the package when busybox is missing.
 */
export async function makeBusyboxRootfs(root: string): Promise<void> {
  try {
    execFileSync(BUSYBOX, ['true']);
  } catch {
    throw new Error(`${BUSYBOX} is missing or not runnable: install Debian's busybox-static (scripts/ensure-system-deps.sh does)`);
  }
  await mkdir(join(root, 'bin'), { recursive: true });
  await copyFile(BUSYBOX, join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  for (const applet of APPLETS) await symlink('busybox', join(root, 'bin', applet));
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/motd'), 'Welcome to Strata\n');
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  await writeFile(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  await mkdir(join(root, 'tmp'), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);
  await mkdir(join(root, 'root'), { recursive: true, mode: 0o700 });
}

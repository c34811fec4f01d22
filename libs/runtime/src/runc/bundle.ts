import type { ContainerSpec } from '../port.js';

/** Docker's default capabilities: enough for ordinary programs, nothing that reaches the host. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

// Docker's masked and read-only paths: kernel interfaces a container must not read or write.
const MASKED = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'];
const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * Each container gets a cgroup `/strata/<id>` that the runtime creates and owns, and runc puts the
 * process in `/strata/<id>/ctr` under it. runc removes its own cgroup when the process ends; ours stays
 * until the container is forgotten, so its OOM counter can still be read after the kill (cgroup v1
 * counts an OOM in the cgroup whose limit was hit: the memory limit is set on ours).
 */
export const cgroupPathOf = (id: string) => `/strata/${id}`;
export const runcCgroupPathOf = (id: string) => `${cgroupPathOf(id)}/ctr`;

/**
 * The OCI runtime config (config.json) for a container: its own pid, ipc, uts, mount and network
 * namespaces (a network namespace with loopback only), Docker's capabilities, masked and read-only
 * paths, no new privileges, and no host mounts but the kernel filesystems every container gets.
 */
export function runtimeConfig(spec: ContainerSpec, options: { memoryLimitOnParent?: boolean } = {}): Record<string, unknown> {
  const caps = DEFAULT_CAPABILITIES;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: spec.process.user.uid, gid: spec.process.user.gid, additionalGids: spec.process.user.additionalGids ?? [] },
      args: spec.process.args,
      env: spec.process.env,
      cwd: spec.process.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: true,
    },
    root: { path: spec.rootfs, readonly: spec.readonlyRootfs ?? false },
    hostname: spec.hostname ?? spec.id.slice(0, 12),
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      cgroupsPath: runcCgroupPathOf(spec.id),
      resources: {
        devices: [{ allow: false, access: 'rwm' }],
        ...(spec.memoryLimitBytes && !options.memoryLimitOnParent ? { memory: { limit: spec.memoryLimitBytes, swap: spec.memoryLimitBytes } } : {}),
        ...(spec.pidsLimit ? { pids: { limit: spec.pidsLimit } } : {}),
      },
      maskedPaths: MASKED,
      readonlyPaths: READONLY,
    },
  };
}

import type { ContainerSpec, ProcessSpec } from '../port.js';

/** What this runtime takes beyond the port's spec: labels become OCI annotations. */
export type RuncContainerSpec = ContainerSpec & { labels?: Record<string, string> };

/** Docker's default capability set: enough for ordinary programs, nothing that reaches the host. */
export const DOCKER_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
] as const;

/** Docker's masked paths (bind-mounted over with /dev/null or an empty tmpfs): kernel data a container must not read. */
export const DOCKER_MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

/** Docker's read-only paths: kernel knobs a container may read but never turn. */
export const DOCKER_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** containerd's default rlimits (Docker's too): runc otherwise passes on the node's own, which may be huge. */
const RLIMITS = [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }];

// Docker's standard kernel filesystems; nothing of the host's own files is mounted in.
const MOUNTS = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
];

// The device cgroup: deny everything, then allow Docker's list (mknod of any, and the usual /dev nodes).
const DEVICES = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  ...[[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 1], [5, 2]].map(([major, minor]) => ({ allow: true, type: 'c', major, minor, access: 'rwm' })),
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // /dev/pts/*
];

export interface BundleOptions {
  /** The container's cgroup, e.g. `/strata/<id>`: where its limits apply and its OOM kills are counted. */
  cgroupsPath: string;
  /** Whether the kernel accounts swap (memsw / memory.swap.max): then swap is capped at the memory limit, so an overflow is an OOM kill, not swapping. */
  swapAccounting: boolean;
}

/** The OCI `process` of a container's first process, and of every `exec` (same capabilities and limits). */
export function processConfig(p: ProcessSpec) {
  return {
    terminal: false,
    user: { uid: p.user.uid, gid: p.user.gid, additionalGids: p.user.additionalGids ?? [] },
    args: p.args,
    env: p.env,
    cwd: p.cwd,
    capabilities: { bounding: [...DOCKER_CAPABILITIES], effective: [...DOCKER_CAPABILITIES], permitted: [...DOCKER_CAPABILITIES] },
    rlimits: RLIMITS,
    noNewPrivileges: true,
  };
}

/**
 * The OCI runtime config (a bundle's config.json) for a container: its own pid, ipc, uts, mount and
 * network namespaces (runc brings up only loopback in a new network namespace), Docker's
 * capabilities, masked and read-only paths, no new privileges, the memory and pids limits on the
 * container's own cgroup. Pure: the same spec gives the same JSON.
 */
export function ociConfig(spec: RuncContainerSpec, options: BundleOptions) {
  const memory = spec.memoryLimitBytes
    ? { limit: spec.memoryLimitBytes, ...(options.swapAccounting ? { swap: spec.memoryLimitBytes } : {}) }
    : undefined;
  return {
    ociVersion: '1.0.2',
    process: processConfig(spec.process),
    root: { path: spec.rootfs, readonly: spec.readonlyRootfs ?? false },
    hostname: spec.hostname ?? spec.id.slice(0, 12),
    mounts: MOUNTS,
    ...(spec.labels && Object.keys(spec.labels).length > 0 ? { annotations: { ...spec.labels } } : {}),
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      cgroupsPath: options.cgroupsPath,
      resources: {
        devices: DEVICES,
        ...(memory ? { memory } : {}),
        ...(spec.pidsLimit ? { pids: { limit: spec.pidsLimit } } : {}),
      },
      maskedPaths: DOCKER_MASKED_PATHS,
      readonlyPaths: DOCKER_READONLY_PATHS,
    },
  };
}

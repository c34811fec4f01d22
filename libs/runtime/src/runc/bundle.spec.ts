import { describe, expect, it } from 'vitest';
import { DOCKER_CAPABILITIES, ociConfig, processConfig, type RuncContainerSpec } from './bundle.js';

describe('ociConfig (a bundle’s config.json)', () => {
  const spec: RuncContainerSpec = {
    id: 'abcdef0123456789',
    rootfs: '/data/containers/abc/merged',
    process: { args: ['sh', '-c', 'echo hi'], env: ['PATH=/bin'], cwd: '/srv', user: { uid: 1000, gid: 100, additionalGids: [5] } },
  };
  const options = { cgroupsPath: '/strata/abcdef0123456789', swapAccounting: true };
  const config = ociConfig(spec, options);

  it('isolates the process like Docker: its own namespaces, Docker’s capabilities, no new privileges, rlimits', () => {
    expect(config.linux.namespaces.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'network']);
    expect(config.linux.namespaces.every((n) => !('path' in n))).toBe(true); // fresh, never the host's
    expect(config.process.capabilities.bounding).toEqual([...DOCKER_CAPABILITIES]);
    expect(config.process.capabilities.effective).toEqual(config.process.capabilities.bounding);
    expect(config.process.capabilities.permitted).toEqual(config.process.capabilities.bounding);
    expect(config.process.capabilities).not.toHaveProperty('ambient');
    expect(DOCKER_CAPABILITIES).toHaveLength(14);
    expect(DOCKER_CAPABILITIES).not.toContain('CAP_SYS_ADMIN');
    expect(config.process.noNewPrivileges).toBe(true);
    expect(config.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
    expect(config.process.terminal).toBe(false);
  });

  it('runs the spec’s process in the spec’s root, named after the container', () => {
    expect(config.process).toMatchObject({ args: ['sh', '-c', 'echo hi'], env: ['PATH=/bin'], cwd: '/srv', user: { uid: 1000, gid: 100, additionalGids: [5] } });
    expect(config.root).toEqual({ path: '/data/containers/abc/merged', readonly: false });
    expect(config.hostname).toBe('abcdef012345');
    expect(ociConfig({ ...spec, hostname: 'web', readonlyRootfs: true }, options)).toMatchObject({ hostname: 'web', root: { readonly: true } });
    expect(config).not.toHaveProperty('annotations');
    expect(ociConfig({ ...spec, labels: { app: 'demo' } }, options).annotations).toEqual({ app: 'demo' });
  });

  it('mounts nothing of the host: only Docker’s kernel filesystems, /sys read-only', () => {
    expect(config.mounts.map((m) => `${m.destination} ${m.type}`)).toEqual(['/proc proc', '/dev tmpfs', '/dev/pts devpts', '/dev/shm tmpfs', '/dev/mqueue mqueue', '/sys sysfs']);
    expect(config.mounts.find((m) => m.destination === '/sys')!.options).toContain('ro');
    expect(config.mounts.every((m) => !m.options.includes('bind') && !m.options.includes('rbind') && m.type !== 'bind')).toBe(true);
  });

  it('masks and write-protects the kernel paths Docker does', () => {
    expect(config.linux.maskedPaths).toEqual(expect.arrayContaining(['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware', '/proc/acpi', '/proc/scsi']));
    expect(config.linux.readonlyPaths).toEqual(['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
    expect(config.linux.resources.devices[0]).toEqual({ allow: false, access: 'rwm' });
  });

  it('puts the container in its own cgroup, with its memory (swap included when accounted) and pids limits', () => {
    expect(config.linux.cgroupsPath).toBe('/strata/abcdef0123456789');
    expect(config.linux.resources).not.toHaveProperty('memory');
    expect(config.linux.resources).not.toHaveProperty('pids');
    const limited = ociConfig({ ...spec, memoryLimitBytes: 8 << 20, pidsLimit: 64 }, options);
    expect(limited.linux.resources).toMatchObject({ memory: { limit: 8 << 20, swap: 8 << 20 }, pids: { limit: 64 } });
    expect(ociConfig({ ...spec, memoryLimitBytes: 8 << 20 }, { ...options, swapAccounting: false }).linux.resources.memory).toEqual({ limit: 8 << 20 });
  });

  it('is a pure function of the spec', () => {
    expect(JSON.stringify(ociConfig(spec, options))).toBe(JSON.stringify(config));
    expect(processConfig(spec.process)).toEqual(config.process);
  });
});

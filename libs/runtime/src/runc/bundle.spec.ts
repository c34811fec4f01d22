import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES, runtimeConfig } from './bundle.js';

describe('runtime config (config.json)', () => {
  const spec = { id: 'abc', rootfs: '/r', process: { args: ['sh'], env: ['A=1'], cwd: '/w', user: { uid: 1000, gid: 100 } } };

  it('isolates the process like Docker: namespaces, its capabilities, masked paths, no new privileges', () => {
    const config = runtimeConfig(spec) as any;
    expect(config.linux.namespaces.map((n: { type: string }) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'network']);
    expect(config.process.capabilities.bounding).toEqual(DEFAULT_CAPABILITIES);
    expect(config.process.capabilities.bounding).not.toContain('CAP_SYS_ADMIN');
    expect(config.process.noNewPrivileges).toBe(true);
    expect(config.linux.maskedPaths).toContain('/proc/kcore');
    expect(config.linux.readonlyPaths).toContain('/proc/sys');
    expect(config.process).toMatchObject({ args: ['sh'], env: ['A=1'], cwd: '/w', user: { uid: 1000, gid: 100 } });
    expect(config.root).toEqual({ path: '/r', readonly: false });
  });

  it('mounts nothing of the host but the kernel filesystems every container gets', () => {
    const config = runtimeConfig(spec) as any;
    expect(config.mounts.map((m: { type: string }) => m.type).sort()).toEqual(['devpts', 'mqueue', 'proc', 'sysfs', 'tmpfs', 'tmpfs']);
    expect(config.mounts.every((m: { type: string }) => m.type !== 'bind')).toBe(true);
  });

  it('puts the memory limit on runc’s cgroup only when the runtime does not hold it itself', () => {
    expect((runtimeConfig({ ...spec, memoryLimitBytes: 1024 }) as any).linux.resources.memory).toEqual({ limit: 1024, swap: 1024 });
    expect((runtimeConfig({ ...spec, memoryLimitBytes: 1024 }, { memoryLimitOnParent: true }) as any).linux.resources.memory).toBeUndefined();
  });
});

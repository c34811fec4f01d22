import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { isMountPoint, mountAll, unmountAll, type OpenedSnapshotter } from '@strata/layers';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { SNAPSHOTTER } from '../images/layer-tokens.js';

/** The snapshot key of a container's writable layer. */
export const snapshotKeyOf = (containerId: string) => `container-${containerId}`;

/**
 * A container's root filesystem on this node: `<dataDir>/containers/<id>/rootfs` with the snapshot's
 * overlay mounted on it, or the native snapshot's own directory (no mount needed). Mounts outlive a
 * node crash, so mounting first checks whether it is mounted already.
 */
@Injectable()
export class ContainerRootfs implements OnApplicationShutdown {
  /** Roots this node mounted, to unmount on the way down (a running container keeps its own view). */
  private readonly mounted = new Set<string>();
  constructor(
    @Inject(SNAPSHOTTER) private readonly snapshots: OpenedSnapshotter,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  dirOf(containerId: string): string {
    return join(this.config.dataDir, 'containers', containerId);
  }

  async mount(containerId: string): Promise<string> {
    const mounts = await this.snapshots.snapshotter.mounts(snapshotKeyOf(containerId));
    if (mounts.length === 1 && mounts[0]!.type === 'bind') return mounts[0]!.source;
    const target = join(this.dirOf(containerId), 'rootfs');
    await mkdir(target, { recursive: true });
    if (!(await isMountPoint(target))) await mountAll(mounts, target);
    this.mounted.add(containerId);
    return target;
  }

  async unmount(containerId: string): Promise<void> {
    this.mounted.delete(containerId);
    const target = join(this.dirOf(containerId), 'rootfs');
    if (await isMountPoint(target).catch(() => false)) await unmountAll(target);
  }

  /**
   * The host's mounts go with the node: a running container has its own mount namespace (runc pivoted
   * into it), and the next node mounts again on demand.
   */
  async onApplicationShutdown(): Promise<void> {
    for (const id of [...this.mounted]) await this.unmount(id).catch(() => undefined);
  }

  async removeAll(containerId: string): Promise<void> {
    await this.unmount(containerId);
    await rm(this.dirOf(containerId), { recursive: true, force: true });
  }
}

export * from './port.js';
export * from './whiteouts.js';
export { OverlaySnapshotter } from './overlay-snapshotter.js';
export { NativeSnapshotter } from './native-snapshotter.js';
export { mountAll, unmountAll, withMounted } from './mount.js';
export { isMountPoint } from './mountinfo.js';
export { openSnapshotter, overlayMissing, type OpenSnapshotterOptions, type OpenedSnapshotter } from './detect.js';

/** DI tokens for the layer machinery's ports (wired in app.module.ts). */
export const CONTENT_STORE = Symbol('ContentStore');
/** An OpenedSnapshotter: the snapshotter the node picked, and why. */
export const SNAPSHOTTER = Symbol('Snapshotter');

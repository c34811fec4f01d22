/** DI tokens for the layer machinery's ports (wired in app.module.ts). */
export const CONTENT_STORE = Symbol('ContentStore');
export const SNAPSHOTTER = Symbol('Snapshotter');

/** DI token for the Runtime port (runc), wired in app.module.ts. */
export const RUNTIME = Symbol('Runtime');

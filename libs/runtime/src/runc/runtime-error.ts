/**
 * An error of the runtime with a stable code the node maps to its own errors (the node already
 * matches `START_FAILED`). The message says what happened in words a user can act on.
 */
export type RuntimeErrorCode =
  | 'INVALID_ID' // not a runc container id (letters, digits, `_ . -`)
  | 'INVALID_SIGNAL'
  | 'UNAVAILABLE' // no runc, not root
  | 'START_FAILED' // runc could not start the process (no such command, bad user…)
  | 'START_TIMEOUT'
  | 'ALREADY_RUNNING'
  | 'NOT_RUNNING'
  | 'NOT_FOUND' // the runtime has never heard of the container
  | 'EXEC_FAILED'
  | 'ABORTED' // a wait or exec given up (asked to, timed out, or the runtime closed)
  | 'RUNC_FAILED'; // runc refused something else; the message is runc's

export class RuntimeError extends Error {
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}

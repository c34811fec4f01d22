import type { Problem, ResyncNotice } from '@strata/api';

/** Exit codes: scripts branch on them, so they are part of the CLI's interface. */
export const EXIT = {
  ok: 0,
  /** The node refused the request, was unreachable, or a stream failed. */
  failure: 1,
  /** The command line itself was wrong; nothing was sent. */
  usage: 2,
  /** `events --follow` was told its position is no longer retained: the consumer must resync. */
  resync: 3,
} as const;

/** A mistake in the command line, found before anything is sent. Exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * A local file could not be read or written after the command had started (a layout that changed
 * while being sent, a full disk under `save -o`). Exit code 1: the command line was fine.
 */
export class LocalError extends Error {
  override readonly name = 'LocalError';
}

/** The node answered with an error: its problem+json body (or one made up from a non-JSON answer). */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title);
  }
  get status(): number {
    return this.problem.status;
  }
  get code(): string {
    return this.problem.code;
  }
}

/** No HTTP answer at all: connection refused, unknown host, reset, timeout. */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
  constructor(
    readonly url: string,
    /** The system error code (ECONNREFUSED, ENOTFOUND, ...) or 'TIMEOUT'. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`the Strata node is not reachable at ${url} (${reason})`, options);
  }
}

/** The answer was not what the API contract promises (a truncated stream, a malformed line...). */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** The live event stream said our position is older than what the node retains. */
export class ResyncError extends Error {
  override readonly name = 'ResyncError';
  constructor(readonly notice: ResyncNotice) {
    super(notice.message);
  }
}

/**
 * A command over several targets (`rmi a b`, `image inspect a b`) went on past a failure, as Docker's
 * do, and has already printed each failure: nothing more to say, but the exit code is 1.
 */
export class PartialFailure extends Error {
  override readonly name = 'PartialFailure';
}

/**
 * The command did its job and has its own exit code to give: a container's (`run`, `wait`) or an exec'd
 * process's. Nothing is printed for it; the code is the message.
 */
export class ExitStatus extends Error {
  override readonly name = 'ExitStatus';
  constructor(readonly code: number) {
    super(`exit status ${code}`);
  }
}

/** A process's exit code as a shell sees it: 0…255 (-1 is 255, as `exit -1` gives). */
export const shellExitCode = (code: number): number => ((Math.trunc(code) % 256) + 256) % 256;

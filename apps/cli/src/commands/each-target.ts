/** Commands over several images (`rmi a b`, `image inspect a b`) that go on past a refusal, as Docker's do. */
import type { Context } from '../context.js';
import { PartialFailure, ProblemError } from '../errors.js';

/**
 * `work` for each target in order. A refusal about one target (not found, in use: a 4xx) is printed
 * and the next target is tried; a failure that concerns every target (no token, the node down or
 * failing) ends the command at once. Call `done()` after printing the results: it exits 1 if any failed.
 */
export async function eachTarget<T>(ctx: Context, targets: readonly string[], work: (target: string) => Promise<T>) {
  const results: T[] = [];
  let failed = 0;
  for (const target of targets) {
    try {
      results.push(await work(target));
    } catch (error) {
      if (!(error instanceof ProblemError) || !concernsTarget(error)) throw error;
      ctx.note(`error: ${error.problem.detail} (${error.problem.code})`);
      failed++;
    }
  }
  return {
    results,
    done(): void {
      if (failed > 0) throw new PartialFailure(`${failed} of ${targets.length} failed`);
    },
  };
}

const concernsTarget = (error: ProblemError): boolean => error.status >= 400 && error.status < 500 && error.status !== 401 && error.status !== 403;

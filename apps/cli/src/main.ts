/** The `strata` client's entry point (bin/strata.js imports it for every command but `serve`). */
import { run } from './cli.js';

const interrupt = new AbortController();
process.on('SIGINT', () => {
  // First Ctrl-C: end cleanly (events --follow stops, requests are abandoned). Second: right now.
  if (interrupt.signal.aborted) process.exit(130);
  interrupt.abort();
});
// `strata events | head`: a closed pipe ends the output, it is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: () => process.stdin,
  env: process.env,
  now: () => new Date(),
  signal: interrupt.signal,
});

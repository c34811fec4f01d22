/**
 * The `strata` program: commands, global options, and the one place where failures become messages
 * and exit codes. `run` never calls process.exit, so tests drive the whole CLI in-process.
 */
import { Command, CommanderError } from 'commander';
import { registerBuild } from './commands/build.js';
import { registerContainers } from './commands/container.js';
import { registerEvents } from './commands/events.js';
import { registerImages } from './commands/image.js';
import { registerReplay } from './commands/replay.js';
import { registerRepo } from './commands/repo.js';
import { registerStatus } from './commands/status.js';
import { registerSystem } from './commands/system-prune.js';
import { registerTag } from './commands/tag.js';
import { registerLogin } from './commands/login.js';
import { registerTransfer } from './commands/transfer.js';
import { registerToken } from './commands/token.js';
import { registerNode } from './commands/node.js';
import { registerMirror } from './commands/mirror.js';
import { DEFAULT_URL } from './config.js';
import { contextFor, type Context, type Io } from './context.js';
import { EXIT, ExitStatus, LocalError, PartialFailure, ProblemError, ProtocolError, ResyncError, UnreachableError, UsageError } from './errors.js';
import { protectTrailingCommand } from './trailing-command.js';
import { version } from './version.js';

export function buildProgram(io: Io, contexts: Context[] = []): Command {
  const program = new Command('strata')
    .description('Strata: event-sourced images, containers and repositories. This is its command-line client.')
    .version(version(), '-V, --version')
    .option('--url <url>', `the node's URL (env STRATA_URL, default ${DEFAULT_URL})`)
    .option('--token <token>', 'API token (env STRATA_TOKEN, default: $STRATA_DATA_DIR/admin.token or ./.strata/admin.token)')
    .option('--json', 'machine-readable output (JSON; NDJSON for events)')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
    })
    .addHelpText(
      'after',
      `
Global options may also follow the command (strata repo ls --json), but not the image of run/create
or the container of exec: from there on, every word belongs to the container's command.
Exit codes: 0 success, 1 the request failed (or the node is unreachable), 2 usage error,
3 events --follow must resync (its position is no longer retained); run (without -d) and exec exit
with the container's (or the process's) own code.`,
    );

  // Subcommands inherit exitOverride and the output settings (they are created after them): their
  // usage errors also end up in `report` as exit code 2.
  const contextOf = (command: Command) => {
    const ctx = contextFor(command, io);
    contexts.push(ctx);
    return ctx;
  };

  program
    .command('serve')
    .description('start a node here (flags: --data-dir, --port, --host, --admin-token, --nats)')
    .allowUnknownOption()
    .helpOption(false)
    .action(() => {
      // bin/strata.js starts the node before this program is ever loaded; reaching this means the
      // CLI's compiled main was run directly.
      throw new UsageError('run `strata serve` through bin/strata.js (or `npm start`): this entry point is the client only');
    });
  // Like serve, these open a log themselves (no node needed): bin/strata.js runs them in the node's entry.
  for (const [name, description] of [
    ['export-log', 'write a whole event log as NDJSON (flags: --data-dir | --nats URL [--nats-stream S], -o FILE, --json)'],
    ['import-log', 'append an export-log file to a log, idempotently (flags: --data-dir | --nats URL, -i FILE, --json)'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .allowUnknownOption()
      .helpOption(false)
      .action(() => {
        throw new UsageError(`run \`strata ${name}\` through bin/strata.js: this entry point is the client only`);
      });
  }
  registerRepo(program, contextOf);
  registerTag(program, contextOf);
  registerImages(program, contextOf);
  registerTransfer(program, contextOf);
  registerLogin(program, contextOf);
  registerContainers(program, contextOf);
  registerBuild(program, contextOf);
  registerEvents(program, contextOf);
  registerReplay(program, contextOf);
  registerStatus(program, contextOf);
  registerSystem(program, contextOf);
  registerToken(program, contextOf);
  registerNode(program, contextOf);
  registerMirror(program, contextOf);
  return program;
}

/** Runs one command line; resolves to the exit code. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const contexts: Context[] = [];
  const program = buildProgram(io, contexts);
  try {
    await program.parseAsync(protectTrailingCommand(program, argv), { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (io.signal?.aborted) return 130; // Ctrl-C: the shell's convention, no error message
    return report(error, io, contexts.at(-1));
  }
}

const line = (io: Io, text: string) => void io.stderr.write(`${text}\n`);

/** The failure as one `error: …` line on stderr (plus a hint where one helps); the exit code. */
function report(error: unknown, io: Io, ctx: Context | undefined): number {
  if (error instanceof CommanderError) {
    // Commander has printed the message (or the help) already.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof UsageError) {
    line(io, `error: ${error.message}`);
    return EXIT.usage;
  }
  if (error instanceof PartialFailure) return EXIT.failure; // each failure is on stderr already
  if (error instanceof ExitStatus) return error.code; // a container's or a process's own code
  if (error instanceof ProblemError) {
    line(io, `error: ${error.problem.detail} (${error.problem.code})`);
    if (error.status === 401 && ctx) {
      line(
        io,
        ctx.config.token === null
          ? 'hint: no API token: pass --token or set STRATA_TOKEN (a local node writes its admin token to $STRATA_DATA_DIR/admin.token, default ./.strata/admin.token)'
          : `hint: the node refused the token from ${ctx.config.tokenSource}`,
      );
    }
    return EXIT.failure;
  }
  if (error instanceof UnreachableError) {
    line(io, `error: ${error.message}`);
    line(io, 'hint: start a node with `strata serve` (or `npm start` in the Strata checkout), or point --url / STRATA_URL at a running one');
    return EXIT.failure;
  }
  if (error instanceof ResyncError) {
    const { notice } = error;
    line(io, `error: ${notice.message} (${notice.code})`);
    if (Number.isFinite(notice.oldestRetained)) {
      line(io, `hint: the oldest retained position is ${notice.oldestRetained}: rebuild your copy from there (strata events --since ${notice.oldestRetained})`);
    }
    return EXIT.resync;
  }
  if (error instanceof ProtocolError || error instanceof LocalError) {
    line(io, `error: ${error.message}`);
    return EXIT.failure;
  }
  // A bug in the CLI (or something unforeseen): say so, with the stack when asked for.
  line(io, `error: unexpected failure: ${error instanceof Error ? error.message : String(error)}`);
  if (io.env.STRATA_DEBUG && error instanceof Error && error.stack) line(io, error.stack);
  return EXIT.failure;
}

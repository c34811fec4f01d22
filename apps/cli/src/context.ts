/** What every command gets: the client, the output mode and the streams, from the global options. */
import type { Command } from 'commander';
import { parsePosition, parseTimeBound, timeBoundParam } from './args.js';
import { StrataClient, type Query } from './client.js';
import { resolveConfig, type CliConfig } from './config.js';
import { version } from './version.js';

/** The process's side of the CLI, injected so tests run the whole CLI in-process. */
export interface Io {
  /** A byte stream: `image cat` and `save` write binary data to it. */
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** `strata load < archive`. A function, so commands that never read stdin never open it. */
  stdin?: () => NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  now: () => Date;
  /** Aborted on Ctrl-C: long-running commands (events --follow) end cleanly on it. */
  signal?: AbortSignal;
  /** Client tuning for tests (short retry pauses). */
  clientOptions?: { retryDelayMs?: number; timeoutMs?: number };
}

export interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

export class Context {
  readonly client: StrataClient;
  readonly json: boolean;

  constructor(
    readonly io: Io,
    readonly config: CliConfig,
    json: boolean,
  ) {
    this.json = json;
    this.client = new StrataClient({
      url: config.url,
      token: config.token,
      userAgent: `strata-cli/${version()}`,
      signal: io.signal,
      ...io.clientOptions,
    });
  }

  /** One line of the command's result on stdout. */
  print(text: string): void {
    this.io.stdout.write(`${text}\n`);
  }

  /** Machine output: one JSON document (pretty on purpose: `jq` reads it, people can too). */
  printJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Progress and notices go to stderr, so stdout stays exactly the result. */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }
}

/** The context for the command being run: global options may be given before or after it. */
export function contextFor(command: Command, io: Io): Context {
  const options = command.optsWithGlobals<GlobalOptions>();
  return new Context(io, resolveConfig(options, io.env), options.json === true);
}

// ---- options every query takes ------------------------------------------------------------------

export interface QueryOptions {
  at?: string;
  minPosition?: string;
}

/** `--at` (time travel) and `--min-position` (read-your-writes), accepted by every query. */
export function withQueryOptions(command: Command): Command {
  return command
    .option('--at <when>', 'answer as of a position, an ISO time or a duration ago (e.g. 42, 2024-05-01T10:32:00Z, 10m)')
    .option('--min-position <n>', 'wait until the read models have reached this position (read-your-writes)');
}

export function queryParams(options: QueryOptions, now: Date): Query {
  return {
    at: options.at === undefined ? undefined : timeBoundParam(parseTimeBound(options.at, now, '--at')),
    minPosition: options.minPosition === undefined ? undefined : parsePosition(options.minPosition, '--min-position'),
  };
}

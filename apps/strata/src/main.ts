import { ConfigError, loadNodeConfig } from './config/node-config.js';
import { LOG_COMMANDS, runLogCommand, type LogCommand } from './log-transfer/log-commands.js';
import { startNode } from './node.js';

/** `strata serve [--data-dir D] [--port P] [--host H] [--admin-token T]`: run a node until SIGINT/SIGTERM. */
async function serve(argv: string[]): Promise<void> {
  const config = loadNodeConfig(argv);
  const node = await startNode(config);
  const stop = (signal: string) => {
    process.stderr.write(`${signal}: stopping node\n`);
    void node.close().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/** The node's own commands: `serve`, and the log copies that open a log directly (export-log, import-log). */
const [command = 'serve', ...rest] = process.argv.slice(2);
const isLogCommand = (LOG_COMMANDS as string[]).includes(command);
const run = isLogCommand ? runLogCommand(command as LogCommand, rest) : serve(command === 'serve' ? rest : process.argv.slice(2));

run.catch((error: unknown) => {
  const known =
    error instanceof ConfigError ||
    ['ERR_PARSE_ARGS_UNKNOWN_OPTION', 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE', 'EVENT_LOG_UNAVAILABLE', 'LOG_IMPORT_CONFLICT', 'ENOENT'].includes(
      (error as { code?: string })?.code ?? '',
    );
  const message = known ? (error as Error).message : ((error as Error)?.stack ?? String(error));
  process.stderr.write(`strata ${isLogCommand ? command : 'serve'}: ${message}\n`);
  process.exit(1);
});

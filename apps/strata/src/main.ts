import { ConfigError, loadNodeConfig } from './config/node-config.js';
import { startNode } from './node.js';

/** `strata serve [--data-dir D] [--port P] [--host H] [--admin-token T]`: run a node until SIGINT/SIGTERM. */
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const config = loadNodeConfig(argv[0] === 'serve' ? argv.slice(1) : argv);
  const node = await startNode(config);
  const stop = (signal: string) => {
    process.stderr.write(`${signal}: stopping node\n`);
    void node.close().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  const message = error instanceof ConfigError || (error as { code?: string })?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
    ? (error as Error).message
    : ((error as Error)?.stack ?? String(error));
  process.stderr.write(`strata serve: ${message}\n`);
  process.exit(1);
});

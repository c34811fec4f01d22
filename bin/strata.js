#!/usr/bin/env node
// The one `strata` binary: `strata serve` starts a node (what `npm start` runs), `export-log` and
// `import-log` copy a log between backends, every other command is the HTTP client. Plain JS so it
// runs before (and without) any build step, and can say "build first".
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Where `nest build <app>` puts each app's main (outDir dist/apps/<app>, rootDir the repository root).
const ENTRIES = {
  node: 'dist/apps/strata/apps/strata/src/main.js',
  cli: 'dist/apps/cli/apps/cli/src/main.js',
};

// The node's own commands open the log or the data directory themselves; everything else talks HTTP.
const NODE_COMMANDS = ['serve', 'export-log', 'import-log'];
const entry = fileURLToPath(new URL(`../${NODE_COMMANDS.includes(process.argv[2]) ? ENTRIES.node : ENTRIES.cli}`, import.meta.url));

if (!existsSync(entry)) {
  process.stderr.write('strata is not built: run npm run build\n');
  process.exit(1);
}
// The node's main starts the server on import and reads its flags from process.argv after `serve`;
// the CLI's main parses process.argv.slice(2) itself.
await import(pathToFileURL(entry).href);

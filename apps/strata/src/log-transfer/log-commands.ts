import { createReadStream, createWriteStream, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportLine, exportLog, importLog, openEventStore, parseExportLines, type EventStoreConfig } from '@strata/eventstore';
import { ConfigError, loadNodeConfig } from '../config/node-config.js';

const USAGE = {
  'export-log': 'strata export-log [--data-dir D | --nats URL [--nats-stream S]] [-o FILE] [--json]',
  'import-log': 'strata import-log [--data-dir D | --nats URL [--nats-stream S]] [-i FILE] [--json]',
} as const;
export type LogCommand = keyof typeof USAGE;
export const LOG_COMMANDS = Object.keys(USAGE) as LogCommand[];

/**
 * `strata export-log` / `strata import-log`: copy a whole log between backends (SQLite ⇄ JetStream)
 * as NDJSON, one envelope per line, order, ids and envelopes kept. They open the log itself, not a
 * node: the same flags and environment as `strata serve` say which log. Progress goes to stderr.
 */
export async function runLogCommand(command: LogCommand, argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'data-dir': { type: 'string' },
      nats: { type: 'string' },
      'nats-stream': { type: 'string' },
      output: { type: 'string', short: 'o' },
      input: { type: 'string', short: 'i' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE[command]}\n`);
    return;
  }
  if (command === 'export-log' && values.input) throw new ConfigError(`export-log writes; -i is import-log's. Usage: ${USAGE[command]}`);
  if (command === 'import-log' && values.output) throw new ConfigError(`import-log reads; -o is export-log's. Usage: ${USAGE[command]}`);
  const nodeArgs = [
    ...(values['data-dir'] ? ['--data-dir', values['data-dir']] : []),
    ...(values.nats ? ['--nats', values.nats] : []),
    ...(values['nats-stream'] ? ['--nats-stream', values['nats-stream']] : []),
  ];
  const config = loadNodeConfig(nodeArgs);
  const target: EventStoreConfig = config.natsUrl
    ? { kind: 'jetstream', url: config.natsUrl, stream: config.natsStream, replicas: config.natsReplicas }
    : { kind: 'sqlite', path: join(config.dataDir, 'strata.db'), synchronous: config.synchronous };
  const where = target.kind === 'jetstream' ? `JetStream ${target.url} stream ${target.stream}` : `SQLite ${target.path}`;
  // No upcasters: events are copied exactly as stored, old schema versions included.
  const store = await openEventStore(target);
  const report = progressReporter(values.json === true);
  try {
    if (command === 'export-log') await exportTo(store, values.output, where, report);
    else await importFrom(store, values.input, where, report);
  } finally {
    await store.close();
  }
}

type Report = (message: string, summary?: Record<string, unknown>) => void;

async function exportTo(store: Awaited<ReturnType<typeof openEventStore>>, output: string | undefined, where: string, report: Report): Promise<void> {
  // A file is written beside its name and renamed at the end: an interrupted export leaves no half file.
  const partial = output ? `${output}.partial` : null;
  const sink = partial ? createWriteStream(partial) : process.stdout;
  let events = 0;
  try {
    for await (const event of exportLog(store)) {
      if (!sink.write(exportLine(event))) await once(sink, 'drain');
      if (++events % 10_000 === 0) report(`exported ${events} events…`);
    }
    if (partial) {
      await new Promise<void>((resolve, reject) => (sink as ReturnType<typeof createWriteStream>).end((error?: Error | null) => (error ? reject(error) : resolve())));
      renameSync(partial, output!);
    }
  } catch (error) {
    if (partial) rmSync(partial, { force: true });
    throw error;
  }
  report(`exported ${events} events from ${where}${output ? ` to ${output}` : ''}`, { command: 'export-log', from: where, events, output: output ?? null });
}

async function importFrom(store: Awaited<ReturnType<typeof openEventStore>>, input: string | undefined, where: string, report: Report): Promise<void> {
  const source = input ? createReadStream(input) : process.stdin;
  let lastShown = 0;
  const result = await importLog(store, parseExportLines(source), (p) => {
    if (p.events - lastShown >= 10_000) {
      lastShown = p.events;
      report(`imported ${p.events} events (${p.appended} appended, ${p.present} already there)…`);
    }
  });
  report(`imported ${result.events} events into ${where}: ${result.appended} appended, ${result.present} already there`, {
    command: 'import-log',
    into: where,
    ...result,
  });
}

/** Progress lines on stderr for people; with --json, the final summary as one JSON line on stdout. */
function progressReporter(json: boolean): Report {
  return (message, summary) => {
    if (summary && json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else process.stderr.write(`${message}\n`);
  };
}

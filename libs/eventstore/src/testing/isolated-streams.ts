import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';

/** A stream (and its command index) of a test's own on the shared server; deleted by destroy(). */
export interface IsolatedStreams {
  url: string;
  stream: string;
  subjectRoot: string;
  destroy(): Promise<void>;
}

export interface SharedNatsServer {
  /** The server, started on first use. */
  server(): Promise<NatsServerHandle>;
  /** Streams of their own (`STRATA_<PREFIX><n>`, subjects `<prefix><n>.>`): nothing of one test is seen by the next. */
  isolated(prefix: string): Promise<IsolatedStreams>;
  stop(): Promise<void>;
}

/** One nats-server for a spec file, started on first use, and a maker of isolated streams on it. */
export function sharedNatsServer(): SharedNatsServer {
  let started: NatsServerHandle | undefined;
  let starting: Promise<NatsServerHandle> | undefined;
  let counter = 0;
  const server = () => (starting ??= startNatsServer().then((s) => (started = s)));
  return {
    server,
    async isolated(prefix) {
      const { url } = await server();
      counter += 1;
      const stream = `STRATA_${prefix.toUpperCase()}${counter}`;
      return {
        url,
        stream,
        subjectRoot: `${prefix.toLowerCase()}${counter}`,
        async destroy() {
          const nc = await connect({ servers: url });
          try {
            const jsm = await jetstreamManager(nc);
            for (const name of [stream, `${stream}_COMMANDS`]) await jsm.streams.delete(name).catch(() => false);
          } finally {
            await nc.close();
          }
        },
      };
    },
    async stop() {
      await started?.stop();
    },
  };
}

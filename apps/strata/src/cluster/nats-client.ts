import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { StoreUnavailableError } from '@strata/eventstore';
import type { NodeConfig } from '../config/node-config.js';

/**
 * The node's NATS connection for everything but the event log (which owns its own): the command
 * gateway, node-to-node routing, heartbeats. Null when the node runs on SQLite alone. Closed last, in
 * onApplicationShutdown, after the services using it stopped in onModuleDestroy.
 */
export class NatsClient implements OnApplicationShutdown {
  private constructor(readonly connection: NatsConnection | null) {}

  static async open(config: NodeConfig): Promise<NatsClient> {
    if (!config.natsUrl) return new NatsClient(null);
    try {
      const nc = await connect({ servers: config.natsUrl.split(','), name: `strata-${config.nodeId}`, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
      return new NatsClient(nc);
    } catch (error) {
      throw new StoreUnavailableError(
        `cannot reach NATS at ${config.natsUrl} (${(error as Error).message}): start nats-server with JetStream (nats-server -js), or unset STRATA_NATS_URL to use the embedded SQLite log`,
        { cause: error },
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.connection || this.connection.isClosed()) return;
    await this.connection.drain().catch((error: unknown) => new Logger('nats').warn({ msg: 'drain failed', error: String(error) }));
  }
}

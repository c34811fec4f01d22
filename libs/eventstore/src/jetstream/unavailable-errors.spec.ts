import { jserrors } from '@nats-io/jetstream/internal';
import { TimeoutError } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../port.js';
import { asUnavailable } from './jetstream-event-store.js';

/**
 * Which NATS errors are an outage (503, retry with the same Idempotency-Key) and which are not. The
 * JetStreamNotEnabled case came from CI: a clustered nats-server being killed answered it to an append,
 * and the node said 500.
 */
describe('asUnavailable', () => {
  it('makes a server that says JetStream is not enabled (it is shutting down) an outage', () => {
    const mapped = asUnavailable(new jserrors.JetStreamNotEnabled('jetstream is not enabled'));
    expect(mapped).toBeInstanceOf(StoreUnavailableError);
    expect((mapped as StoreUnavailableError).code).toBe('EVENT_LOG_UNAVAILABLE');
  });

  it('makes a timeout an outage', () => {
    expect(asUnavailable(new TimeoutError())).toBeInstanceOf(StoreUnavailableError);
  });

  it('leaves other errors as they are', () => {
    const error = new RangeError('a bug');
    expect(asUnavailable(error)).toBe(error);
  });
});

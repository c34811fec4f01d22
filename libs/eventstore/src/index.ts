export * from './port.js';
export * from './sqlite/sqlite-event-store.js';
export * from './jetstream/jetstream-event-store.js';
export * from './open-event-store.js';
export { checkAppend, isExpectedVersion } from './append-input.js';
export { LiveSignal, pollingSubscription } from './subscription.js';
export * from './transfer/log-transfer.js';

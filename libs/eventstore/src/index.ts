export * from './port.js';
export * from './sqlite/sqlite-event-store.js';
export { LiveSignal, pollingSubscription } from './subscription.js';

export * from './commands.js';
export * from './decider.js';
export * from './events.js';
export * from './name-reservation.js';
export * from './names.js';
export * from './state.js';
export * from './run-config.js';

export * from './commands.js';
export * from './decider.js';
export * from './events.js';
export * from './grants.js';
export * from './names.js';
export * from './state.js';

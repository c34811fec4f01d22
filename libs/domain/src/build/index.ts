export * from './build-plan.js';
export * from './commands.js';
export * from './decider.js';
export * from './dockerfile.js';
export * from './dockerignore.js';
export * from './events.js';
export * from './shell-words.js';
export * from './state.js';

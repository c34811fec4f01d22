export * from './port.js';
export * from './whiteouts.js';

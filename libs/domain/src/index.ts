export * from './shared/decider.js';
export * from './shared/digest.js';
export * from './shared/envelope.js';
export * from './shared/errors.js';
export * from './shared/upcasting.js';
export * from './repository/index.js';
export * from './image/index.js';
export * from './container/index.js';
export * from './node/index.js';
export * from './build/index.js';
export * from './principal/index.js';
export * from './pull/index.js';
export * from './mirror/index.js';

import { repositoryUpcasters } from './repository/upcasters.js';
import { UpcasterChain } from './shared/upcasting.js';

/** Every upcaster the domain knows, for the event store readers. */
export const domainUpcasters = () => new UpcasterChain([...repositoryUpcasters]);

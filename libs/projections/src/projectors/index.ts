import { auditLogProjector } from './audit-log.projector.js';
import { containersProjector } from './containers.projector.js';
import { imagesProjector } from './images.projector.js';
import type { Projector } from './projector.js';
import { repositoriesProjector } from './repositories.projector.js';
import { tagHistoryProjector } from './tag-history.projector.js';

export * from './projector.js';
export { auditLogProjector, containersProjector, imagesProjector, repositoriesProjector, tagHistoryProjector };

/** The projectors every node runs, in the order they apply each event. */
export const PROJECTORS: readonly Projector[] = [repositoriesProjector, tagHistoryProjector, imagesProjector, containersProjector, auditLogProjector];

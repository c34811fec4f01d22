import type { Projector } from './projector.js';

/** Every event, of every type and aggregate, with its full envelope (table `audit_log`). */
export const auditLogProjector: Projector = {
  name: 'audit-log',
  version: 1,
  tables: ['audit_log'],
  apply(event, writer) {
    writer.recordEvent(event);
  },
};

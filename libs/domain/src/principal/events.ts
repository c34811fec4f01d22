/**
 * Principal events: who may do what, and who changed it (the envelope's actor). Never a token, a hash
 * or a salt: secrets stay out of the log (DESIGN.md).
 */
export const PRINCIPAL_SCHEMA = {
  PrincipalCreated: 1,
  PrincipalGrantsChanged: 1,
  PrincipalRevoked: 1,
} as const;

export type PrincipalEvent =
  | { type: 'PrincipalCreated'; schemaVersion: 1; data: { name: string; grants: string[] } }
  | { type: 'PrincipalGrantsChanged'; schemaVersion: 1; data: { name: string; grants: string[]; previousGrants: string[] } }
  | { type: 'PrincipalRevoked'; schemaVersion: 1; data: { name: string; grants: string[] } };

export type PrincipalEventType = PrincipalEvent['type'];
export const PRINCIPAL_EVENT_TYPES = Object.keys(PRINCIPAL_SCHEMA) as PrincipalEventType[];

import { invalid } from '../shared/errors.js';

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** The node's built-in administrator (its token is <dataDir>/admin.token); never created by command. */
export const ADMIN_PRINCIPAL = 'admin';

/** Principal names are user names: lowercase letters, digits, '.', '_', '-', up to 64. */
export function assertPrincipalName(value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw invalid('INVALID_PRINCIPAL_NAME', `invalid principal name ${JSON.stringify(value)}: 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit`, {
      name: value,
    });
  }
  if (value === ADMIN_PRINCIPAL || value === 'anonymous') {
    throw invalid('RESERVED_PRINCIPAL_NAME', `"${value}" is reserved for the node itself`, { name: value });
  }
  return value;
}

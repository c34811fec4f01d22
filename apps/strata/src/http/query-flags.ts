import { ApiError } from './api-error.js';

/** `?force`, `?force=true|1`, `?force=false|0`; anything else is a 400 naming the flag. */
export function parseFlag(value: string | undefined, name: string): boolean {
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1' || value === '') return true;
  throw new ApiError(400, 'VALIDATION_FAILED', `${name} must be true or false`);
}

import { invalid } from '../shared/errors.js';

// Docker's container name rule: a letter or digit, then letters, digits, '_', '.' or '-'.
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const ID = /^[a-f0-9]{64}$/;

export function assertContainerName(value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw invalid(
      'INVALID_CONTAINER_NAME',
      `invalid container name ${JSON.stringify(value)}: a letter or digit, then up to 127 letters, digits, '_', '.' or '-' (like Docker's)`,
      { name: value },
    );
  }
  return value;
}

/** Container ids are 64 lowercase hex digits, like Docker's; people may use a unique prefix. */
export function assertContainerId(value: unknown): string {
  if (typeof value !== 'string' || !ID.test(value)) throw invalid('INVALID_CONTAINER_ID', 'a container id is 64 lowercase hex digits', { id: value });
  return value;
}

export type RestartPolicyName = 'no' | 'on-failure' | 'always' | 'unless-stopped';
export interface RestartPolicy {
  name: RestartPolicyName;
  /** on-failure only: give up after this many restarts (0: no limit). */
  maximumRetryCount: number;
}

/** `no`, `always`, `unless-stopped`, `on-failure`, `on-failure:N`, as `docker run --restart` takes it. */
export function parseRestartPolicy(value: unknown): RestartPolicy {
  if (value === undefined || value === null || value === '') return { name: 'no', maximumRetryCount: 0 };
  const text = String(value);
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d{1,6}))?$/.exec(text);
  if (!m || (m[2] !== undefined && m[1] !== 'on-failure')) {
    throw invalid('INVALID_RESTART_POLICY', `invalid restart policy "${text}": use no, always, unless-stopped, on-failure or on-failure:N`, { value: text });
  }
  return { name: m[1] as RestartPolicyName, maximumRetryCount: m[2] === undefined ? 0 : Number(m[2]) };
}

export const formatRestartPolicy = (p: RestartPolicy) =>
  p.name === 'on-failure' && p.maximumRetryCount > 0 ? `on-failure:${p.maximumRetryCount}` : p.name;

/**
 * The DETAILS column of `strata container history`: the facts of each container event that a person
 * looks for (the exit code, the signal, the files, the new image). @strata/api types event data as
 * unknown, so each field is read defensively: an event recorded by another version still prints.
 */
import type { EventView } from '@strata/api';
import { shortDigest } from '../table.js';

type Data = Record<string, unknown>;

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** The first paths of a files-changed event, `A /srv/a, D /etc/motd`, and how many more there are. */
const MAX_PATHS = 5;
function fileChanges(data: Data): string {
  const changes = Array.isArray(data.changes) ? (data.changes as Data[]) : [];
  const shown = changes.slice(0, MAX_PATHS).map((c) => `${text(c.kind) ?? '?'} ${text(c.path) ?? '?'}`);
  const more = changes.length > MAX_PATHS ? ` (+${changes.length - MAX_PATHS} more)` : '';
  const source = text(data.source);
  return `${source ? `${source}: ` : ''}${shown.join(', ')}${more}`;
}

function exited(data: Data): string {
  const parts = [`exit code ${typeof data.exitCode === 'number' ? data.exitCode : '?'}`];
  const reason = text(data.reason);
  const signal = text(data.signal);
  const error = text(data.error);
  if (error) parts.push(`error: ${error}`);
  else if (reason) parts.push(signal ? `${reason} by ${signal}` : reason);
  else if (signal) parts.push(`by ${signal}`);
  if (data.oomKilled === true && reason !== 'oom') parts.push('out of memory');
  return parts.join(', ');
}

function created(data: Data): string {
  const image = (data.image ?? {}) as Data;
  const parts = [`name ${text(data.name) ?? '?'}`, `image ${text(image.reference) ?? shortDigest(text(image.imageId))}`];
  const policy = data.restartPolicy as Data | undefined;
  if (policy && text(policy.name) && policy.name !== 'no') {
    parts.push(`restart ${String(policy.name)}${typeof policy.maximumRetryCount === 'number' && policy.maximumRetryCount > 0 ? `:${policy.maximumRetryCount}` : ''}`);
  }
  return parts.join(', ');
}

function committed(data: Data): string {
  const tag = text(data.tag);
  return `image ${text(data.imageId) ?? '?'}${tag ? ` as ${tag}` : ''}`;
}

function started(data: Data): string {
  // pid 0: the process had already ended when the node looked (a very short one).
  const pid = typeof data.pid === 'number' && data.pid > 0 ? `pid ${data.pid}` : '';
  const restarts = typeof data.restartCount === 'number' && data.restartCount > 0 ? `restart ${data.restartCount}` : '';
  return [pid, restarts].filter(Boolean).join(', ');
}

const DETAILS: Record<string, (data: Data) => string> = {
  ContainerCreated: created,
  ContainerStarted: started,
  ContainerExited: exited,
  ContainerPaused: () => '',
  ContainerUnpaused: () => '',
  ContainerSignalled: (d) => text(d.signal) ?? '',
  ContainerRenamed: (d) => `${text(d.from) ?? '?'} -> ${text(d.to) ?? '?'}`,
  ContainerFilesChanged: fileChanges,
  ContainerCommitRequested: (d) => `layer ${text(d.layerDigest)?.slice(7, 19) ?? '?'}${text(d.tag) ? ` for ${text(d.tag)}` : ''}${text(d.message) ? `: ${text(d.message)}` : ''}`,
  ContainerCommitted: committed,
  ContainerRemoved: () => '',
};

/** One line of facts; an event type this client does not know shows its data (without the id) as JSON. */
export function eventDetails(event: Pick<EventView, 'type' | 'data'>): string {
  const data = event.data !== null && typeof event.data === 'object' ? (event.data as Data) : {};
  const describe = DETAILS[event.type];
  if (describe) return describe(data);
  const { id: _id, ...rest } = data;
  return Object.keys(rest).length > 0 ? JSON.stringify(rest) : '';
}

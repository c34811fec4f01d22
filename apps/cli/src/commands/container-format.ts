/** How a container reads in `ps`: Docker's short id, quoted command and status text. Pure functions. */
import type { ContainerView } from '@strata/api';
import { ellipsis, humanDuration } from '../human.js';

/** Docker shows the first 12 hex digits of a container id. */
export const shortId = (id: string): string => id.slice(0, 12);

/**
 * What the container runs, as Docker's list shows it: the entrypoint and the command joined by spaces,
 * an argument that holds a space wrapped in single quotes (`sh -c 'echo hello'`).
 */
export function commandLine(container: ContainerView): string {
  const words = [...(container.config.entrypoint ?? []), ...(container.config.cmd ?? [])];
  return words.map((w, i) => (i > 0 && w.includes(' ') ? `'${w}'` : w)).join(' ');
}

/** `docker ps`'s COMMAND cell: cut at 20 characters (unless --no-trunc), then quoted. */
export const commandCell = (container: ContainerView, trunc: boolean): string =>
  JSON.stringify(trunc ? ellipsis(commandLine(container), 20) : commandLine(container));

const since = (iso: string | null, now: Date): string =>
  humanDuration(iso === null ? 0 : Math.max(0, now.getTime() - Date.parse(iso)));

/** Docker's status text: "Up 3 minutes", "Up 2 minutes (Paused)", "Exited (0) 2 minutes ago", "Created". */
export function statusText(container: ContainerView, now: Date): string {
  switch (container.status) {
    case 'running':
      return `Up ${since(container.startedAt, now)}`;
    case 'paused':
      return `Up ${since(container.startedAt, now)} (Paused)`;
    case 'exited':
      return `Exited (${container.exitCode ?? -1}) ${since(container.finishedAt, now)} ago`;
    case 'created':
      return 'Created';
    case 'removed':
      return 'Removed';
    default:
      // A state this client does not know yet: show it rather than hide the container.
      return String(container.status);
  }
}

/**
 * `strata container history <ctr>`: the container's whole life from the log, one line per event of its
 * stream, oldest first, with who did it. Not `docker history` (that is the image's, `strata history`).
 */
import type { Command } from 'commander';
import type { ContainerView, EventView, EventsReply } from '@strata/api';
import type { Context } from '../context.js';
import { ProtocolError } from '../errors.js';
import { formatTable } from '../table.js';
import { eventDetails } from './container-event-details.js';
import { containerPath } from './paths.js';

type ContextOf = (command: Command) => Context;

/** Largest page asked for; the node may answer with less and a `next` cursor. */
const PAGE = 1000;
const FULL_ID = /^[0-9a-f]{64}$/;

/**
 * The container's full id, which its stream is named by. A full id is used as it is, so the life of a
 * container the node no longer lists can still be read; a name or a prefix is resolved by the node.
 */
async function fullId(ctx: Context, ref: string): Promise<string> {
  if (FULL_ID.test(ref)) return ref;
  return (await ctx.client.get<ContainerView>(containerPath(ref))).id;
}

async function streamEvents(ctx: Context, streamId: string): Promise<EventView[]> {
  const events: EventView[] = [];
  let after: number | undefined;
  for (;;) {
    const reply = await ctx.client.getList<EventView, EventsReply>('/events', { stream: streamId, after, limit: PAGE });
    events.push(...reply.items);
    if (reply.next === null) return events;
    // A cursor that does not advance would page forever: a node bug, reported as such.
    if (after !== undefined && reply.next <= after) throw new ProtocolError(`GET /events paging did not advance (next=${reply.next})`);
    after = reply.next;
  }
}

export function defineContainerHistory(command: Command, contextOf: ContextOf): Command {
  return command
    .description("a container's whole life, one line per event, oldest first (with --json: one JSON event per line)")
    .argument('<container>', 'id, unique id prefix or name (a removed container by its full id)')
    .action(async (ref: string, _options: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const id = await fullId(ctx, ref);
      const events = await streamEvents(ctx, `container-${id}`);
      // NDJSON, as `strata events --json` prints events: one per line, for jq and for piping.
      if (ctx.json) return events.forEach((event) => ctx.print(JSON.stringify(event)));
      const rows = events.map((e) => [e.occurredAt, e.position, e.type, e.actor, eventDetails(e)]);
      ctx.print(formatTable(['TIME', 'POSITION', 'EVENT', 'ACTOR', 'DETAILS'], rows));
    });
}

import type { DomainEvent } from './envelope.js';

/**
 * An aggregate as two pure functions (Emmett's decider): `decide` turns a command and the current
 * state into events (or throws a DomainError); `evolve` folds one event into the state.
 * No I/O, no clock, no randomness: whatever varies comes in with the command.
 */
export interface Decider<State, Command, Event extends DomainEvent = DomainEvent> {
  /** Stream category, the `<type>` in `strata.events.<type>.<id>`. */
  readonly category: string;
  initialState(): State;
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
}

export function fold<S, C, E extends DomainEvent>(decider: Decider<S, C, E>, events: Iterable<E>): S {
  let state = decider.initialState();
  for (const event of events) state = decider.evolve(state, event);
  return state;
}

/** Stream ids are `<category>-<id>`; the category is everything before the first dash. */
export const streamIdOf = (category: string, id: string) => `${category}-${id}`;
export function categoryOf(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash < 0 ? streamId : streamId.slice(0, dash);
}

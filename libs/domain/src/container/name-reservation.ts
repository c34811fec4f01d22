import type { Decider } from '../shared/decider.js';
import { conflict } from '../shared/errors.js';
import { assertContainerName } from './names.js';

/**
 * Container names are unique among live containers: each name is a stream (`containername-<name>`)
 * whose events say who holds it. Reserving a held name is a conflict; the log orders racing reservations.
 */
export const CONTAINER_NAME_CATEGORY = 'containername';
export const containerNameStreamId = (name: string) => `${CONTAINER_NAME_CATEGORY}-${assertContainerName(name)}`;

export type ContainerNameCommand =
  | { type: 'ReserveContainerName'; name: string; containerId: string }
  | { type: 'ReleaseContainerName'; name: string; containerId: string };

export type ContainerNameEvent =
  | { type: 'ContainerNameReserved'; schemaVersion: 1; data: { name: string; containerId: string } }
  | { type: 'ContainerNameReleased'; schemaVersion: 1; data: { name: string; containerId: string } };

export interface ContainerNameState {
  holder: string | null;
}

export const containerNameDecider: Decider<ContainerNameState, ContainerNameCommand, ContainerNameEvent> = {
  category: CONTAINER_NAME_CATEGORY,
  initialState: () => ({ holder: null }),
  decide(command, state) {
    const name = assertContainerName(command.name);
    if (command.type === 'ReserveContainerName') {
      if (state.holder === command.containerId) return [];
      if (state.holder !== null) {
        throw conflict('CONTAINER_NAME_IN_USE', `the container name "${name}" is already in use by container ${state.holder.slice(0, 12)}: remove or rename it first`, {
          name,
          containerId: state.holder,
        });
      }
      return [{ type: 'ContainerNameReserved', schemaVersion: 1, data: { name, containerId: command.containerId } }];
    }
    if (state.holder !== command.containerId) return [];
    return [{ type: 'ContainerNameReleased', schemaVersion: 1, data: { name, containerId: command.containerId } }];
  },
  evolve(state, event) {
    switch (event.type) {
      case 'ContainerNameReserved':
        return { holder: event.data.containerId };
      case 'ContainerNameReleased':
        return { holder: null };
      default:
        return state;
    }
  },
};

import { createHash } from 'node:crypto';

// Docker's "adjective_surname" container names, with a shorter list of each.
const ADJECTIVES = ['admiring', 'bold', 'brave', 'clever', 'eager', 'elastic', 'focused', 'gallant', 'happy', 'keen', 'lucid', 'modest', 'nifty', 'quirky', 'serene', 'sharp', 'stoic', 'tender', 'vigilant', 'zealous'];
const SURNAMES = ['babbage', 'curie', 'darwin', 'euler', 'fermat', 'galileo', 'hopper', 'hypatia', 'kepler', 'lamport', 'liskov', 'lovelace', 'noether', 'pasteur', 'ritchie', 'shannon', 'thompson', 'turing', 'wozniak', 'yalow'];

/** How many names an unnamed create tries before it gives up (each taken by another container). */
export const NAME_CANDIDATES = 8;

/**
 * The name of an unnamed container: drawn from its id (itself derived from the create's command id), so
 * every run of the same create (a retry, a failover taking it over) draws the same name, and a run that
 * finds its name reserved in the log reserved it itself. `candidate` > 0: the next draws, when the name is
 * taken by another container.
 */
export function containerNameFor(containerId: string, candidate = 0): string {
  const b = createHash('sha256').update(`${containerId}/${candidate}`).digest();
  return `${ADJECTIVES[b[0] % ADJECTIVES.length]}_${SURNAMES[b[1] % SURNAMES.length]}_${b.readUInt16BE(2) % 1000}`;
}

import { randomInt } from 'node:crypto';

// Docker's "adjective_surname" container names, with a shorter list of each.
const ADJECTIVES = ['admiring', 'bold', 'brave', 'clever', 'eager', 'elastic', 'focused', 'gallant', 'happy', 'keen', 'lucid', 'modest', 'nifty', 'quirky', 'serene', 'sharp', 'stoic', 'tender', 'vigilant', 'zealous'];
const SURNAMES = ['babbage', 'curie', 'darwin', 'euler', 'fermat', 'galileo', 'hopper', 'hypatia', 'kepler', 'lamport', 'liskov', 'lovelace', 'noether', 'pasteur', 'ritchie', 'shannon', 'thompson', 'turing', 'wozniak', 'yalow'];

export const randomContainerName = () => `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SURNAMES[randomInt(SURNAMES.length)]}_${randomInt(1000)}`;

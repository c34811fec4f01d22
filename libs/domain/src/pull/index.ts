import type { DomainEvent } from '../shared/envelope.js';

/**
 * Pulls of private repositories, for audit. A pull is a fact that already happened (the manifest was
 * served), not a decision: nothing can refuse it, so it has no decider. Each repository's pulls go to
 * a stream of their own, `pull-<repository>`, appended without a version check and never read back
 * to decide anything: pulls outnumber pushes by far, and on the repository's own stream every pull
 * would bump its version and make concurrent pushes lose their optimistic-concurrency race (and the
 * repository decider would read every pull ever made before each tag move).
 */
export const PULL_CATEGORY = 'pull';
export const pullStreamId = (repository: string) => `${PULL_CATEGORY}-${repository}`;

export interface ImagePulledData {
  repository: string;
  /** The manifest digest served. */
  digest: string;
  /** What the client asked for: a tag or the digest itself. */
  reference: string;
}

export type PullEvent = { type: 'ImagePulled'; schemaVersion: 1; data: ImagePulledData };

export const imagePulled = (data: ImagePulledData): PullEvent & DomainEvent => ({ type: 'ImagePulled', schemaVersion: 1, data });

/** What happens to one blob of a pull or a push, as it happens. */
export interface BlobProgress {
  digest: string;
  mediaType: string;
  size: number;
  /** Bytes moved so far (of `size`). */
  bytes: number;
  /**
   * exists: already there (in our store on a pull, on the registry on a push); mounted: the registry
   * linked it from another repository; downloading/uploading: bytes moving; resumed: a dropped
   * download continues with Range; done: complete and verified.
   */
  status: 'exists' | 'mounted' | 'downloading' | 'uploading' | 'resumed' | 'done';
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `work` over `items`, at most `limit` at a time; the first failure is thrown once all have settled. */
export async function mapLimit<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
}

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

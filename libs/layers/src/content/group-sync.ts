/**
 * Group commit for an fsync: a caller is answered by an fsync that started after it asked. While one
 * runs, every caller that arrives waits for the next, which then runs once for all of them (a commit
 * of 5,000 changed files put one blob each, and each paid its own fsync of blobs/).
 */
export class GroupSync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly fsync: () => Promise<void>) {}

  sync(): Promise<void> {
    if (!this.running) return this.start();
    this.next ??= this.running.catch(() => undefined).then(() => {
      this.next = undefined;
      return this.start();
    });
    return this.next;
  }

  private start(): Promise<void> {
    const run = this.fsync().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}

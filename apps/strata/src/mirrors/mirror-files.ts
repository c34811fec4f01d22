import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RegistryCredentials } from '@strata/registry';

/**
 * A small JSON object kept in the data directory, mode 0600, written whole to a temporary file and
 * renamed (a crash leaves the old file or the new one, never half of one).
 */
class JsonFile<V> {
  private cache: Record<string, V> | null = null;

  constructor(private readonly file: string) {}

  all(): Record<string, V> {
    if (this.cache) return this.cache;
    this.cache = existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, V>) : {};
    return this.cache;
  }

  get(key: string): V | undefined {
    return this.all()[key];
  }

  set(key: string, value: V | undefined): void {
    const next = { ...this.all() };
    if (value === undefined) delete next[key];
    else next[key] = value;
    const temporary = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(next, null, 2), { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, this.file);
    this.cache = next;
  }
}

/** `<dataDir>/mirror-credentials.json`: a mirror's credentials for its source, by mirror id. Never in the log. */
export class MirrorCredentials {
  private readonly file: JsonFile<RegistryCredentials>;
  constructor(dataDir: string) {
    this.file = new JsonFile(join(dataDir, 'mirror-credentials.json'));
  }
  get(id: string): RegistryCredentials | null {
    return this.file.get(id) ?? null;
  }
  set(id: string, credentials: RegistryCredentials | null): void {
    this.file.set(id, credentials ?? undefined);
  }
}

/**
 * `<dataDir>/mirror-positions.json`: per mirror, the last position of the *source's* log it handled.
 * Node-local progress, not a fact about the world, so not an event: losing it costs one full sync
 * (tags/list compared with the local tags), never a wrong tag.
 */
export class MirrorPositions {
  private readonly file: JsonFile<number>;
  constructor(dataDir: string) {
    this.file = new JsonFile(join(dataDir, 'mirror-positions.json'));
  }
  get(id: string): number | null {
    return this.file.get(id) ?? null;
  }
  set(id: string, position: number | null): void {
    if (this.file.get(id) === (position ?? undefined)) return;
    this.file.set(id, position ?? undefined);
  }
}

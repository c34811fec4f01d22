import { Inject, Injectable } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { CommandReply, PrincipalView } from '@strata/api';
import {
  ADMIN_PRINCIPAL,
  assertPrincipalName,
  conflict,
  fold,
  parseGrant,
  principalDecider,
  principalStreamId,
  type CommandMeta,
  type PrincipalEvent,
} from '@strata/domain';
import { EVENT_STORE, type EventStore } from '@strata/eventstore';
import { ExecuteCommand } from '../commands/execute-command.js';
import { ReadModels } from '../projections/read-models.service.js';
import { ADMIN, newApiToken, TokenStore, type Principal } from './token-store.js';

/**
 * Principals: a token (hashed in tokens.json) plus grants (in the log, `principal-<name>`). The log is
 * read on every authentication, so a revoke or a grant change takes effect at once, on every request.
 */
@Injectable()
export class Principals {
  /** Token changes run one at a time: a create's hash must never be overwritten by a racing create's. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly tokens: TokenStore,
    private readonly commandBus: CommandBus,
    private readonly reads: ReadModels,
  ) {}

  /** The principal behind an API token, with its current grants; null for unknown or revoked tokens. */
  async authenticate(token: string): Promise<Principal | null> {
    const name = this.tokens.identify(token);
    if (name === null) return null;
    return this.byName(name);
  }

  /** The principal called `name` as it is now in the log (the admin is built in), or null. */
  async byName(name: string): Promise<Principal | null> {
    if (name === ADMIN_PRINCIPAL) return ADMIN;
    const state = fold(principalDecider, (await this.store.readStream(principalStreamId(name))) as never[]);
    if (state.status !== 'active') return null;
    return { name, grants: state.grants.map(parseGrant) };
  }

  /**
   * Mints a token, keeps its hash, then records PrincipalCreated. The hash is written first: a crash in
   * between leaves a hash for a principal the log does not know, which authenticates nobody (the log
   * decides), and the next create of the name replaces it. A refused command puts the old entry back.
   */
  create(meta: CommandMeta, name: string, grants: string[]): Promise<{ token: string; reply: CommandReply }> {
    return this.serial(async () => {
      assertPrincipalName(name);
      const state = fold(principalDecider, (await this.store.readStream(principalStreamId(name))) as never[]);
      if (state.status === 'active') throw conflict('PRINCIPAL_EXISTS', `principal "${name}" already exists (revoke it first to start again)`, { name });
      const token = newApiToken();
      const previous = this.tokens.entry(name);
      this.tokens.set(name, token);
      try {
        const reply = await this.commandBus.execute(new ExecuteCommand('CreatePrincipal', { name, grants }, meta));
        return { token, reply };
      } catch (error) {
        this.tokens.restore(name, previous);
        throw error;
      }
    });
  }

  changeGrants(meta: CommandMeta, name: string, grants: string[]): Promise<CommandReply> {
    return this.commandBus.execute(new ExecuteCommand('ChangePrincipalGrants', { name, grants }, meta));
  }

  /** Records the revoke (from then on the token authenticates nobody), then forgets the hash. */
  revoke(meta: CommandMeta, name: string): Promise<CommandReply> {
    return this.serial(async () => {
      const reply = await this.commandBus.execute(new ExecuteCommand('RevokePrincipal', { name }, meta));
      this.tokens.remove(name);
      return reply;
    });
  }

  /** Every principal the log knows (revoked ones too), from the audit read model, plus the built-in admin. */
  async list(): Promise<PrincipalView[]> {
    await this.reads.catchUpToHead();
    const views = new Map<string, PrincipalView>();
    for (let after = 0; ; ) {
      const page = await this.reads.engine.queryEvents({ category: principalDecider.category, after, limit: 10_000 });
      for (const event of page.items) {
        const e = event as unknown as PrincipalEvent & { occurredAt: string; actor: string };
        const name = e.data.name;
        const view = views.get(name) ?? { name, grants: [], status: 'active', builtIn: false, createdAt: null, createdBy: null, updatedAt: null, updatedBy: null };
        if (e.type === 'PrincipalCreated') Object.assign(view, { grants: e.data.grants, status: 'active', createdAt: e.occurredAt, createdBy: e.actor });
        else if (e.type === 'PrincipalGrantsChanged') view.grants = e.data.grants;
        else if (e.type === 'PrincipalRevoked') Object.assign(view, { grants: [], status: 'revoked' });
        Object.assign(view, { updatedAt: e.occurredAt, updatedBy: e.actor });
        views.set(name, view);
      }
      if (page.next === null || page.next === undefined) break;
      after = page.next;
    }
    const admin: PrincipalView = { name: ADMIN_PRINCIPAL, grants: ['admin:*'], status: 'active', builtIn: true, createdAt: null, createdBy: null, updatedAt: null, updatedBy: null };
    return [admin, ...[...views.values()].sort((a, b) => (a.name < b.name ? -1 : 1))];
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

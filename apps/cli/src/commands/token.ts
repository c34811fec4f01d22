/** `strata token create|ls|revoke|grants`: principals, their grants and their API tokens. */
import type { Command } from 'commander';
import type { CommandReply, PrincipalView, TokenCreatedReply } from '@strata/api';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable } from '../table.js';
import { atPosition } from './repo.js';

type ContextOf = (command: Command) => Context;

const GRANT = /^(pull|push|admin):\S+$/;
const collect = (value: string, previous: string[] = []) => [...previous, value];

function checkGrants(grants: string[]): string[] {
  const bad = grants.find((g) => !GRANT.test(g));
  if (bad !== undefined) throw new UsageError(`--grant ${bad}: write pull|push|admin:<repository pattern>, e.g. push:team/* ('*' matches anything)`);
  return grants;
}

const tokenPath = (name: string) => `/tokens/${encodeURIComponent(name)}`;

export function registerToken(program: Command, contextOf: ContextOf): void {
  const token = program
    .command('token')
    .description('principals and their API tokens: who may pull, push or administer which repositories (admin only)')
    .addHelpText(
      'after',
      '\nGrants: pull:<pattern> reads, push:<pattern> reads and writes, admin:<pattern> also deletes;\n' +
        "admin:* administers the node. '*' in a pattern matches anything: team/*, *.\n" +
        '\nExamples:\n  strata token create ci --grant push:team/* --grant pull:library/*\n  strata token ls\n  strata token revoke ci',
    );

  token
    .command('create')
    .description('make a principal and print its API token (shown this once: the node keeps only a salted hash)')
    .argument('<name>', 'the principal: lowercase letters, digits, ".", "_", "-"')
    .option('--grant <grant>', 'pull|push|admin:<repository pattern> (repeat for more)', collect, [])
    .action(async (name: string, options: { grant: string[] }, command: Command) => {
      const ctx = contextOf(command);
      const reply = await ctx.client.invoke<TokenCreatedReply>('POST', '/tokens', { name, grants: checkGrants(options.grant) });
      if (ctx.json) return ctx.printJson(reply);
      // The token alone on stdout, so `strata token create ci > ci.token` keeps just the secret.
      ctx.print(reply.token);
      ctx.note(`created principal ${name} with ${reply.principal.grants.join(', ') || 'no grants'} at position ${reply.position}; the token above is not shown again`);
    });

  token
    .command('ls')
    .description('list principals and their grants (never their tokens)')
    .option('--all', 'include revoked principals')
    .action(async (options: { all?: boolean }, command: Command) => {
      const ctx = contextOf(command);
      const reply = await ctx.client.getList<PrincipalView>('/tokens');
      const items = options.all ? reply.items : reply.items.filter((p) => p.status === 'active');
      if (ctx.json) return ctx.printJson({ ...reply, items });
      ctx.print(
        formatTable(
          ['NAME', 'GRANTS', 'STATUS', 'CREATED', 'BY', 'UPDATED', 'BY'],
          items.map((p) => [p.name, p.grants.join(' ') || '-', p.builtIn ? 'built-in' : p.status, p.createdAt ?? '-', p.createdBy ?? '-', p.updatedAt ?? '-', p.updatedBy ?? '-']),
        ),
      );
    });

  token
    .command('grants')
    .description("replace a principal's grants (recorded as an event, like every access change)")
    .argument('<name>', 'the principal')
    .option('--grant <grant>', 'pull|push|admin:<repository pattern> (repeat for more; none removes every grant)', collect, [])
    .action(async (name: string, options: { grant: string[] }, command: Command) => {
      const ctx = contextOf(command);
      const reply: CommandReply = await ctx.client.command('PUT', `${tokenPath(name)}/grants`, { grants: checkGrants(options.grant) });
      if (ctx.json) return ctx.printJson(reply);
      if (reply.events.length === 0) return ctx.print(`${name} already has exactly these grants: nothing changed`);
      ctx.print(`changed the grants of ${name} ${atPosition(reply)}`);
    });

  token
    .command('revoke')
    .description('revoke a principal: its token stops working at once (the name may be created again)')
    .argument('<name>', 'the principal')
    .action(async (name: string, _options: unknown, command: Command) => {
      const ctx = contextOf(command);
      const reply = await ctx.client.command('DELETE', tokenPath(name));
      if (ctx.json) return ctx.printJson(reply);
      ctx.print(`revoked ${name} ${atPosition(reply)}`);
    });
}

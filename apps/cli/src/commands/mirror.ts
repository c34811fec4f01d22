/** `strata mirror add|ls|rm`: follow a repository of another node's registry ("push once, pull anywhere"). */
import type { Command } from 'commander';
import type { AddMirrorRequest, CommandReply, MirrorAddedReply, MirrorView } from '@strata/api';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable } from '../table.js';
import { atPosition } from './repo.js';

type ContextOf = (command: Command) => Context;

async function readStdin(ctx: Context): Promise<string> {
  const stdin = ctx.io.stdin?.();
  if (!stdin || stdin.isTTY) throw new UsageError('--password-stdin: pipe the password in (echo "$TOKEN" | strata mirror add … -u NAME --password-stdin)');
  const chunks: Buffer[] = [];
  for await (const chunk of stdin as AsyncIterable<Buffer | string>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function registerMirror(program: Command, contextOf: ContextOf): void {
  const mirror = program
    .command('mirror')
    .description("mirror repositories of other nodes: every tag there is pulled here (admin only)")
    .addHelpText(
      'after',
      '\nThe node syncs every tag of the source repository, then follows the source\'s events: a new or moved tag is\n' +
        'pulled, an untag untags. Without access to the source\'s events (they are for its administrators) it polls\n' +
        'tags/list instead. Credentials (a principal of the source and its API token) are kept by the node in\n' +
        '<data-dir>/mirror-credentials.json (0600), never in events. In a cluster (a shared JetStream log) one node\n' +
        'runs each mirror (RUNNER in `strata mirror ls`; the others stand by) and another takes it over if it dies.\n' +
        '\nExamples:\n  echo "$TOKEN" | strata mirror add http://node-a:7070 team/app -u mirror --password-stdin\n  strata mirror ls\n  strata mirror rm <id>',
    );

  mirror
    .command('add')
    .description('mirror <repo> of the node at <source-url> into [local-repo] (default: the same name)')
    .argument('<source-url>', "the source node's base URL, e.g. http://10.0.0.5:7070")
    .argument('<repo>', 'the repository there')
    .argument('[local-repo]', 'the repository here')
    .option('-u, --username <name>', "the principal on the source node")
    .option('--password-stdin', 'read its API token from stdin')
    .action(async (source: string, repository: string, localRepository: string | undefined, options: { username?: string; passwordStdin?: boolean }, command: Command) => {
      const ctx = contextOf(command);
      if (options.passwordStdin && !options.username) throw new UsageError('--password-stdin needs -u <principal>');
      if (options.username && !options.passwordStdin) throw new UsageError('-u needs --password-stdin (the token is never taken from the command line)');
      const body: AddMirrorRequest = { source, repository, ...(localRepository ? { localRepository } : {}) };
      if (options.username) {
        const password = await readStdin(ctx);
        if (!password) throw new UsageError('--password-stdin: nothing was read');
        body.credentials = { username: options.username, password };
      }
      const reply = await ctx.client.invoke<MirrorAddedReply>('POST', '/mirrors', body);
      if (ctx.json) return ctx.printJson(reply);
      ctx.print(reply.mirror.id);
      ctx.note(`mirroring ${reply.mirror.source}/${reply.mirror.repository} into ${reply.mirror.localRepository} at position ${reply.position}`);
    });

  mirror
    .command('ls')
    .description('list mirrors and what they are doing (in a cluster, RUNNER is the node that runs each; the others stand by)')
    .action(async (_options: unknown, command: Command) => {
      const ctx = contextOf(command);
      const reply = await ctx.client.getList<MirrorView>('/mirrors');
      if (ctx.json) return ctx.printJson(reply);
      ctx.print(
        formatTable(
          ['ID', 'SOURCE', 'REPOSITORY', 'LOCAL', 'STATE', 'RUNNER', 'POSITION', 'PULLED', 'UNTAGGED', 'ERROR'],
          reply.items.map((m) => [
            m.id,
            m.source,
            m.repository,
            m.localRepository,
            m.state,
            m.runner ?? '-',
            m.position === null ? '-' : String(m.position),
            String(m.pulled),
            String(m.untagged),
            m.lastError ?? '-',
          ]),
        ),
      );
    });

  mirror
    .command('rm')
    .description('stop mirroring (the tags already pulled stay)')
    .argument('<id>', 'the mirror id (strata mirror ls)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const ctx = contextOf(command);
      const reply: CommandReply = await ctx.client.command('DELETE', `/mirrors/${encodeURIComponent(id)}`);
      if (ctx.json) return ctx.printJson(reply);
      ctx.print(`removed mirror ${id} ${atPosition(reply)}`);
    });
}

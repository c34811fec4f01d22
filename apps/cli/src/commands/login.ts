/** `strata login <registry> -u user --password-stdin` and `strata logout <registry>`, as Docker's. */
import type { Command } from 'commander';
import type { RegistryLoginReply, RegistryLoginRequest } from '@strata/api';
import type { Context } from '../context.js';
import { ProblemError, UsageError } from '../errors.js';
import { authFilePath, registryAuthHeader, removeCredentials, storeCredentials } from './registry-auth-file.js';
import { randomUUID } from 'node:crypto';
import { networkReason, toProblem } from '../client.js';
import { UnreachableError } from '../errors.js';

type ContextOf = (command: Command) => Context;

const REGISTRY = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?$/;

export function registerLogin(program: Command, contextOf: ContextOf): void {
  program
    .command('login')
    .description("check credentials for a registry (through the node) and keep them in the CLI's auth file (0600), like docker login")
    .argument('<registry>', 'host[:port]')
    .requiredOption('-u, --username <user>', 'user name')
    .option('-p, --password <password>', 'password (visible in the process list: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .option('--insecure', 'plain HTTP to a registry that is not on loopback')
    .addHelpText('after', `\nThe credentials are kept in $STRATA_CONFIG/auth.json (default ~/.config/strata/auth.json), mode 0600, and sent\nto the node only with a pull or push of that registry; the node never stores them.\n\nExample:\n  echo "$PASSWORD" | strata login 127.0.0.1:5000 -u ci --password-stdin`)
    .action(async (registryText: string, options: { username: string; password?: string; passwordStdin?: boolean; insecure?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (!REGISTRY.test(registryText)) throw new UsageError(`"${registryText}" is not a registry: write host[:port], e.g. 127.0.0.1:5000`);
      const registry = registryText.toLowerCase();
      if (options.password !== undefined && options.passwordStdin) throw new UsageError('--password and --password-stdin exclude each other');
      let password = options.password;
      if (options.passwordStdin) password = await readStdin(ctx);
      if (password === undefined || password === '') throw new UsageError('give the password with --password-stdin (or -p)');
      if (options.password !== undefined) ctx.note('warning: a password on the command line is visible to other users: prefer --password-stdin');
      const auth = { username: options.username, password, serveraddress: registry };
      const body: RegistryLoginRequest = { registry, insecure: options.insecure === true || undefined };
      const headers: Record<string, string> = { Accept: 'application/json, application/problem+json', 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID(), ...registryAuthHeader(auth) };
      if (ctx.config.token) headers.Authorization = `Bearer ${ctx.config.token}`;
      let res: Response;
      try {
        res = await fetch(`${ctx.config.url.replace(/\/+$/, '')}/registries/login`, { method: 'POST', headers, body: JSON.stringify(body), signal: ctx.io.signal });
      } catch (error) {
        throw new UnreachableError(ctx.config.url, networkReason(error), { cause: error });
      }
      const text = await res.text();
      if (!res.ok) throw new ProblemError(toProblem(res, text));
      const reply = JSON.parse(text) as RegistryLoginReply;
      const path = await storeCredentials(ctx.io.env, registry, options.username, password);
      if (ctx.json) return ctx.printJson({ ...reply, username: options.username, authFile: path });
      ctx.print(`Login Succeeded (credentials for ${registry} kept in ${path})`);
    });

  program
    .command('logout')
    .description('forget the credentials kept for a registry')
    .argument('<registry>', 'host[:port]')
    .action(async (registryText: string, _options: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const registry = registryText.toLowerCase();
      const removed = await removeCredentials(ctx.io.env, registry);
      if (ctx.json) return ctx.printJson({ registry, removed, authFile: authFilePath(ctx.io.env) });
      ctx.print(removed ? `Removing login credentials for ${registry}` : `Not logged in to ${registry}`);
    });
}

async function readStdin(ctx: Context): Promise<string> {
  const stdin = ctx.io.stdin?.();
  if (!stdin || stdin.isTTY) throw new UsageError('--password-stdin: pipe the password in (echo "$PASSWORD" | strata login …)');
  const chunks: Buffer[] = [];
  for await (const chunk of stdin as AsyncIterable<Buffer | string>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

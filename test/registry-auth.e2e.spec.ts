import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventsReply, EventView, ImageView, PrincipalView, TokenCreatedReply } from '@strata/api';
import { umociBusyboxLayout } from './support/busybox.js';
import { importImage } from './support/images.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';
import { tool, treeOf } from './support/trees.js';

/** A tool that talks to the node in this very process must run asynchronously (see registry.e2e.spec.ts). */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 64 * 1024 * 1024, timeout: 50_000 }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new Error(`${command} is not installed: run scripts/ensure-system-deps.sh`));
      else if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}
const skopeo = (args: string[]) => run('skopeo', args);

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/**
 * Issue 6's access control, through skopeo and curl: principals with grants (events, never secrets in
 * the log), the Docker token flow with scoped short-lived tokens, private repositories that look
 * missing to the unauthorised, pulls of private repositories recorded as ImagePulled, deletes with
 * the caller as actor.
 */
describe('registry access control (principals, grants, the token flow)', () => {
  let t: TestNode;
  let work: string;
  let layout: string;
  let registry: string;
  const tokens: Record<string, string> = {};

  const v2 = (method: string, path: string, authorization?: string, body?: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${t.url}${path}`, { method, body, headers: { ...(authorization ? { authorization } : {}), ...headers } });
  const bearer = (name: string) => `Bearer ${tokens[name]}`;
  const errorCode = async (response: Response) => ((await response.json()) as { errors: Array<{ code: string }> }).errors[0]!.code;
  const events = async (query = '') => (await t.json<EventsReply>('GET', `/events?format=json&limit=10000${query}`)).body.items;
  const createPrincipal = async (name: string, grants: string[]) => {
    const answer = await t.json<TokenCreatedReply>('POST', '/tokens', { name, grants });
    expect(answer.status).toBe(201);
    tokens[name] = answer.body.token;
    return answer.body;
  };

  beforeAll(async () => {
    t = await startTestNode();
    registry = t.url.replace(/^http:\/\//, '');
    work = mkdtempSync(join(tmpdir(), 'strata-registry-auth-'));
    layout = await umociBusyboxLayout(work, 'pushed by a principal with a grant\n');
  });
  afterAll(async () => {
    await t?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('creates principals as events; the tokens are shown once and never enter the log', async () => {
    const ci = await createPrincipal('ci', ['push:team/*']);
    expect(ci.principal).toMatchObject({ name: 'ci', grants: ['push:team/*'], status: 'active', createdBy: 'admin' });
    expect(ci.token).toMatch(/^strata_/);
    await createPrincipal('reader', ['pull:team/app']);
    await createPrincipal('outsider', ['push:other/*']);
    const created = await events('&type=PrincipalCreated');
    expect(created.map((e) => [e.streamId, e.actor, e.data])).toEqual([
      ['principal-ci', 'admin', { name: 'ci', grants: ['push:team/*'] }],
      ['principal-reader', 'admin', { name: 'reader', grants: ['pull:team/app'] }],
      ['principal-outsider', 'admin', { name: 'outsider', grants: ['push:other/*'] }],
    ]);
    const listed = (await t.json<{ items: PrincipalView[] }>('GET', '/tokens')).body.items;
    expect(listed.map((p) => [p.name, p.grants, p.builtIn])).toEqual([
      ['admin', ['admin:*'], true],
      ['ci', ['push:team/*'], false],
      ['outsider', ['push:other/*'], false],
      ['reader', ['pull:team/app'], false],
    ]);
    expect(JSON.stringify(listed)).not.toContain('strata_');
    // Invalid grants and duplicate names are refused with their codes.
    expect((await t.json('POST', '/tokens', { name: 'bad', grants: ['write:*'] })).body.code).toBe('INVALID_GRANT');
    expect((await t.json('POST', '/tokens', { name: 'ci', grants: [] })).status).toBe(409);
    // The secrets: salted hashes in tokens.json (0600), nowhere in the event log or the read models.
    let logSeen = false;
    for (const file of ['strata.db', 'strata.db-wal', 'read.db', 'read.db-wal', 'tokens.json']) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(t.dataDir, file));
      } catch {
        continue;
      }
      logSeen ||= file.startsWith('strata.db') && bytes.includes('"push:team/*"');
      for (const token of Object.values(tokens)) expect(bytes.includes(token), `${token} in ${file}`).toBe(false);
    }
    expect(logSeen).toBe(true); // the grep reads the log's bytes: the grants are there, the tokens are not
    const logged = JSON.stringify(await events());
    for (const token of Object.values(tokens)) expect(logged).not.toContain(token);
    expect(statSync(join(t.dataDir, 'tokens.json')).mode & 0o777).toBe(0o600);
  });

  it('skopeo pushes with --dest-creds to a repository the grant covers; the pusher is the actor', async () => {
    const before = (await events()).length;
    await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `ci:${tokens.ci}`, `oci:${layout}:base`, `docker://${registry}/team/app:1`]);
    const recorded = (await events()).slice(before);
    expect(recorded.map((e) => [e.type, e.actor])).toEqual([
      ['ImageCreated', 'ci'],
      ['RepositoryCreated', 'ci'],
      ['ImageTagged', 'ci'],
    ]);
    expect((await t.json('GET', `/repositories/${encodeURIComponent('team/app')}`)).body.visibility).toBe('private');
    expect(statSync(join(t.dataDir, 'registry-token.key')).mode & 0o777).toBe(0o600);
  });

  it('refuses a push without a grant, by skopeo and by curl, and appends nothing', async () => {
    const before = (await events()).length;
    await expect(
      skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `outsider:${tokens.outsider}`, `oci:${layout}:base`, `docker://${registry}/team/app:2`]),
    ).rejects.toThrow(/denied|unauthorized|authentication required/i);
    // A wrong password for a real principal is refused at the token endpoint.
    await expect(
      skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `ci:${tokens.outsider}`, `oci:${layout}:base`, `docker://${registry}/team/app:2`]),
    ).rejects.toThrow(/unauthorized|wrong principal|401/i);
    const curl = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '-H', `Authorization: Bearer ${tokens.outsider}`, `${t.url}/v2/team/app/blobs/uploads/`]);
    expect(curl).toBe('403');
    expect((await events()).length).toBe(before);
    expect((await t.json('GET', `/repositories/${encodeURIComponent('team/app')}/tags`)).body.items.map((x: any) => x.tag)).toEqual(['1']);
  });

  it('a private repository looks missing to anonymous callers and principals without pull (skopeo, curl)', async () => {
    await expect(skopeo(['inspect', '--tls-verify=false', '--no-creds', `docker://${registry}/team/app:1`])).rejects.toThrow(/unauthorized|authentication required/i);
    await expect(skopeo(['inspect', '--tls-verify=false', '--creds', `outsider:${tokens.outsider}`, `docker://${registry}/team/app:1`])).rejects.toThrow(
      /unauthorized|authentication required/i,
    );
    for (const authorization of [undefined, bearer('outsider')]) {
      const existing = await v2('GET', '/v2/team/app/manifests/1', authorization);
      const missing = await v2('GET', '/v2/team/nothing/manifests/1', authorization);
      for (const answer of [existing, missing]) {
        expect(answer.status).toBe(401);
        expect(await errorCode(answer)).toBe('UNAUTHORIZED');
      }
      expect(existing.headers.get('www-authenticate')).toBe(`Bearer realm="${t.url}/v2/token",service="strata",scope="repository:team/app:pull"`);
    }
    const curl = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${t.url}/v2/team/app/manifests/1`]);
    expect(curl).toBe('401');
    // The catalog hides it from them too; its puller sees it.
    expect(await (await v2('GET', '/v2/_catalog')).json()).toEqual({ repositories: [] });
    expect(await (await v2('GET', '/v2/_catalog', bearer('outsider'))).json()).toEqual({ repositories: [] });
    expect(await (await v2('GET', '/v2/_catalog', bearer('reader'))).json()).toEqual({ repositories: ['team/app'] });
    // Over the Strata API alike: 404 as if missing.
    const rest = await t.json('GET', `/repositories/${encodeURIComponent('team/app')}`, undefined, { authorization: bearer('outsider') });
    expect([rest.status, rest.body.code]).toEqual([404, 'REPOSITORY_NOT_FOUND']);
  });

  it('a principal with pull pulls with skopeo --src-creds; the pull of a private repository is an ImagePulled event', async () => {
    const image = (await t.json<ImageView>('GET', `/images/${encodeURIComponent('team/app:1')}`)).body;
    const out = join(work, 'pulled');
    await skopeo(['copy', '--src-tls-verify=false', '--src-creds', `reader:${tokens.reader}`, `docker://${registry}/team/app:1`, `oci:${out}:x`]);
    tool('umoci', ['unpack', '--image', `${out}:x`, join(work, 'u1')]);
    expect(treeOf(join(work, 'u1/rootfs'))).toEqual(treeOf(join(work, 'b1/rootfs')));
    const pulls = await events('&type=ImagePulled');
    expect(pulls.length).toBeGreaterThanOrEqual(1);
    expect(pulls.at(-1)).toMatchObject({ streamId: 'pull-team/app', actor: 'reader', data: { repository: 'team/app', digest: image.manifestDigest, reference: '1' } });
    // HEAD is not a pull.
    const count = pulls.length;
    expect((await v2('HEAD', '/v2/team/app/manifests/1', bearer('reader'))).status).toBe(200);
    expect((await events('&type=ImagePulled')).length).toBe(count);
    // The repository's own stream is untouched by pulls: its history is tag moves only.
    expect((await events(`&stream=${encodeURIComponent('repository-team/app')}`)).map((e) => e.type)).toEqual(['RepositoryCreated', 'ImageTagged']);
    // The reader cannot push.
    const push = await v2('POST', '/v2/team/app/blobs/uploads/', bearer('reader'));
    expect([push.status, await errorCode(push)]).toEqual([403, 'DENIED']);
  });

  it('the token endpoint issues short-lived signed tokens carrying only what is granted', async () => {
    const query = '?service=strata&scope=repository:team/app:pull,push&scope=repository:team/app2:*%20repository:other/x:pull';
    const answer = await v2('GET', `/v2/token${query}`, basic('ci', tokens.ci!));
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as { token: string; access_token: string; expires_in: number };
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(300);
    const claims = claimsOf(body.token);
    expect(claims).toMatchObject({ sub: 'ci', aud: 'strata' });
    expect(claims.exp - claims.iat).toBe(300);
    expect(claims.access).toEqual([
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'team/app2', actions: ['pull', 'push'] },
      { type: 'repository', name: 'other/x', actions: [] },
    ]);
    // A Bearer API token works at the realm as well; anonymous gets nothing on a private repository.
    const viaBearer = claimsOf(((await (await v2('GET', `/v2/token${query}`, bearer('reader'))).json()) as { token: string }).token);
    expect(viaBearer.access[0]).toEqual({ type: 'repository', name: 'team/app', actions: ['pull'] });
    const anonymous = claimsOf(((await (await v2('GET', '/v2/token?scope=repository:team/app:pull')).json()) as { token: string }).token);
    expect(anonymous).toMatchObject({ sub: null, access: [{ type: 'repository', name: 'team/app', actions: [] }] });
    // The token opens what it carries and nothing else; a forged one opens nothing.
    expect((await v2('GET', '/v2/team/app/manifests/1', `Bearer ${body.token}`)).status).toBe(200);
    const pullOnly = ((await (await v2('GET', '/v2/token?scope=repository:team/app:pull', basic('ci', tokens.ci!))).json()) as { token: string }).token;
    const refused = await v2('POST', '/v2/team/app/blobs/uploads/', `Bearer ${pullOnly}`);
    expect(refused.status).toBe(401); // the grant is there, the token lacks it: fetch a better one
    expect(refused.headers.get('www-authenticate')).toContain('scope="repository:team/app:pull,push"');
    const [h, , s] = body.token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${s}`;
    expect((await v2('GET', '/v2/team/app/manifests/1', `Bearer ${forged}`)).status).toBe(401);
    expect((await v2('GET', '/v2/token', basic('ci', 'wrong'))).status).toBe(401);
  });

  it('grants limit the Strata HTTP API: repository routes by grant, the rest for administrators', async () => {
    const as = (name: string) => ({ authorization: bearer(name) });
    expect((await t.json('GET', '/events', undefined, as('ci'))).status).toBe(403);
    expect((await t.json('GET', '/images', undefined, as('ci'))).status).toBe(403);
    expect((await t.json('POST', '/tokens', { name: 'sneaky', grants: ['admin:*'] }, as('ci'))).status).toBe(403);
    expect((await t.json('POST', '/commands/CreateRepository', { name: 'team/x' }, as('ci'))).status).toBe(403);
    expect((await t.json('GET', `/repositories/${encodeURIComponent('team/app')}/tags`, undefined, as('reader'))).status).toBe(200);
    expect((await t.json('GET', '/status', undefined, as('reader'))).body.principal).toBe('reader');
    // push moves tags from a source it can read, but may not change visibility (admin on the repository).
    const moved = await t.json('PUT', `/repositories/${encodeURIComponent('team/app')}/tags/stable`, { source: 'team/app:1' }, as('ci'));
    expect(moved.status).toBe(200);
    expect((await t.json('PUT', `/repositories/${encodeURIComponent('team/app')}/tags/x`, { digest: sha256('x') }, as('ci'))).status).toBe(403);
    expect((await t.json('PUT', `/repositories/${encodeURIComponent('team/app')}/visibility`, { visibility: 'public' }, as('ci'))).status).toBe(403);
  });

  it('blobs of other repositories cannot be borrowed by digest: HEAD says unknown, a manifest naming them is refused', async () => {
    const secret = await importImage(t.url, ADMIN_TOKEN, 'secret', 'other/secret:1');
    const image = (await t.json<ImageView>('GET', `/images/${encodeURIComponent('other/secret:1')}`)).body;
    expect(image.manifestDigest).toBe(secret);
    const layer = image.layers[0]!.digest;
    expect((await v2('HEAD', `/v2/team/app/blobs/${layer}`, bearer('ci'))).status).toBe(404);
    expect((await v2('GET', `/v2/team/app/manifests/${secret}`, bearer('ci'))).status).toBe(404);
    // A mount from a repository the caller cannot pull is not a mount: an upload starts instead.
    expect((await v2('POST', `/v2/team/app/blobs/uploads/?mount=${layer}&from=other/secret`, bearer('ci'))).status).toBe(202);
    const manifest = await (await v2('GET', `/v2/other/secret/manifests/1`, `Bearer ${ADMIN_TOKEN}`)).text();
    const put = await v2('PUT', '/v2/team/app/manifests/borrowed', bearer('ci'), manifest, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    expect([put.status, await errorCode(put)]).toEqual([400, 'MANIFEST_BLOB_UNKNOWN']);
  });

  it('deletes: by tag with push (untag), by digest with admin (untag + image delete), blobs; the caller is the actor', async () => {
    const image = (await t.json<ImageView>('GET', `/images/${encodeURIComponent('team/app:1')}`)).body;
    const untag = await v2('DELETE', '/v2/team/app/manifests/stable', bearer('ci'));
    expect(untag.status).toBe(202);
    const byDigest = await v2('DELETE', `/v2/team/app/manifests/${image.manifestDigest}`, bearer('ci'));
    expect([byDigest.status, await errorCode(byDigest)]).toEqual([403, 'DENIED']);
    expect((await t.json('PUT', '/tokens/ci/grants', { grants: ['admin:team/*'] })).status).toBe(200);
    // admin:team/* administers team/… repositories (create, visibility), and nothing else.
    expect((await t.json('POST', '/repositories', { name: 'team/made' }, { authorization: bearer('ci') })).status).toBe(201);
    expect((await t.json('POST', '/repositories', { name: 'other/made' }, { authorization: bearer('ci') })).status).toBe(403);
    expect((await t.json('GET', '/events', undefined, { authorization: bearer('ci') })).status).toBe(403);
    const layer = image.layers[0]!.digest;
    const busy = await v2('DELETE', `/v2/team/app/blobs/${layer}`, bearer('ci'));
    expect([busy.status, await errorCode(busy)]).toEqual([409, 'DENIED']);
    expect((await v2('DELETE', `/v2/team/app/manifests/${image.manifestDigest}`, bearer('ci'))).status).toBe(202);
    expect((await v2('GET', '/v2/team/app/manifests/1', bearer('ci'))).status).toBe(404);
    expect((await v2('DELETE', `/v2/team/app/blobs/${layer}`, bearer('ci'))).status).toBe(202);
    expect((await v2('HEAD', `/v2/team/app/blobs/${layer}`, bearer('ci'))).status).toBe(404);
    const recorded = (await events()).filter((e: EventView) => ['ImageUntagged', 'ImageDeleted', 'PrincipalGrantsChanged'].includes(e.type) && e.streamId !== 'repository-team/made');
    expect(recorded.map((e) => [e.type, e.actor])).toEqual([
      ['ImageUntagged', 'ci'],
      ['PrincipalGrantsChanged', 'admin'],
      ['ImageUntagged', 'ci'],
      ['ImageDeleted', 'ci'],
    ]);
  });

  it('public repositories: anonymous pulls work and are counted, not recorded; revoked tokens stop at once', async () => {
    await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `ci:${tokens.ci}`, `oci:${layout}:base`, `docker://${registry}/team/open:1`]);
    expect((await t.json('PUT', `/repositories/${encodeURIComponent('team/open')}/visibility`, { visibility: 'public' }, { authorization: bearer('ci') })).status).toBe(200);
    const pulls = (await events('&type=ImagePulled')).length;
    await skopeo(['copy', '--src-tls-verify=false', '--src-no-creds', `docker://${registry}/team/open:1`, `oci:${join(work, 'anon')}:x`]);
    expect((await events('&type=ImagePulled')).length).toBe(pulls);
    const metrics = await (await t.call('GET', '/metrics')).text();
    expect(metrics).toMatch(/strata_registry_pulls_total\{visibility="public"\} [1-9]/);
    expect(metrics).toMatch(/strata_registry_pulls_total\{visibility="private"\} [1-9]/);

    const revoked = await t.json('DELETE', '/tokens/reader');
    expect(revoked.body.events).toEqual(['PrincipalRevoked']);
    expect((await v2('GET', '/v2/team/app/tags/list', bearer('reader'))).status).toBe(401);
    expect((await t.json('GET', '/status', undefined, { authorization: bearer('reader') })).status).toBe(401);
    expect((await v2('GET', '/v2/token', basic('reader', tokens.reader!))).status).toBe(401);
    const listed = (await t.json<{ items: PrincipalView[] }>('GET', '/tokens')).body.items.find((p) => p.name === 'reader');
    expect(listed).toMatchObject({ status: 'revoked', grants: [], updatedBy: 'admin' });
  });
});

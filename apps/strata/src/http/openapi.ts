import { z } from 'zod';
import { COMMAND_CATALOG } from '../commands/command-catalog.js';
import { STRATA_VERSION } from '../version.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const problem = { description: 'Problem (RFC 7807)', content: { 'application/problem+json': { schema: ref('Problem') } } };
const errors = { 400: problem, 401: problem, 404: problem, 409: problem };
const commandInput = (name: string, omit: string[] = []) => {
  const schema = z.toJSONSchema(COMMAND_CATALOG[name].input, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  for (const key of omit) {
    delete schema.properties?.[key];
    schema.required = schema.required?.filter((r) => r !== key);
  }
  return schema;
};
const p = (name: string, where: 'path' | 'query', description: string, required = where === 'path') => ({
  name, in: where, required, description, schema: { type: 'string' },
});
const readParams = [
  p('minPosition', 'query', 'Wait (bounded) until the read models reach this position (read-your-writes)'),
  p('at', 'query', 'Time travel: a position or an ISO time'),
];
const name = p('name', 'path', 'Repository name, URL-encoded (library%2Fnginx)');
const tag = p('tag', 'path', 'Tag');
const command = (summary: string, input?: object, status = '200') => ({
  summary,
  parameters: [p('Idempotency-Key', 'query', 'header: the commandId; a retry with the same key is not executed twice')].map((h) => ({ ...h, in: 'header' })),
  ...(input ? { requestBody: { required: true, ...json(input) } } : {}),
  responses: { [status]: { description: 'Command reply', ...json(ref('CommandReply')) }, ...errors },
});
/** `{'GET /path': summary}` → OpenAPI paths with a generic answer: the routes documented in brief. */
const brief = (routes: Record<string, string>) => {
  const paths: Record<string, Record<string, object>> = {};
  for (const [route, summary] of Object.entries(routes)) {
    const [method, path] = route.split(' ') as [string, string];
    paths[path] ??= {};
    paths[path][method.toLowerCase()] = { summary, responses: { 200: { description: 'OK (JSON, or the stream the summary names)' }, ...errors } };
  }
  return paths;
};
const query = (summary: string, schema: object, extra: object[] = []) => ({
  summary,
  parameters: [...readParams, ...extra],
  responses: { 200: { description: 'OK', ...json(schema) }, ...errors, 504: problem },
});

/** The node's OpenAPI 3.1 document, served at /openapi.json. Command bodies come from the same schemas that validate them. */
export function openApiDocument() {
  return {
    openapi: '3.1.0',
    info: { title: 'Strata node API', version: STRATA_VERSION, description: 'Event-sourced images, containers and repositories.' },
    security: [{ bearer: [] }],
    paths: {
      '/healthz': { get: { summary: 'Liveness (no token needed)', security: [], responses: { 200: { description: 'OK' } } } },
      '/status': { get: query('Node status', { type: 'object' }) },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text exposition' } } } },
      '/repositories': {
        post: command('Create a repository', commandInput('CreateRepository'), '201'),
        get: query('List repositories', ref('ListReply')),
      },
      '/repositories/{name}': {
        parameters: [name],
        get: query('One repository with its tags', { type: 'object' }),
        delete: { ...command('Delete a repository'), parameters: [p('force', 'query', 'true: delete its tags too')] },
      },
      '/repositories/{name}/visibility': { parameters: [name], put: command('Set visibility', commandInput('SetRepositoryVisibility', ['name'])) },
      '/repositories/{name}/tags': { parameters: [name], get: query('Tags of a repository', ref('ListReply')) },
      '/repositories/{name}/tags/{tag}': {
        parameters: [name, tag],
        get: query('One tag', { type: 'object' }),
        put: command('Set or move a tag (digest, or source "repo:tag")', commandInput('TagImage', ['name', 'tag'])),
        delete: command('Remove a tag'),
      },
      '/repositories/{name}/history': {
        parameters: [name],
        get: query('Every move of the repository\'s tags', ref('ListReply'), [p('tag', 'query', 'Only this tag')]),
      },
      '/commands': { get: { summary: 'The command catalog with input schemas', responses: { 200: { description: 'OK' } } } },
      '/commands/{command}': {
        parameters: [p('command', 'path', 'Command name, e.g. CreateRepository')],
        post: command('Execute any command by name', { type: 'object' }),
      },
      '/events': {
        get: query('The audit log: every event, filtered and paged', ref('EventsReply'), [
          ...['stream', 'category', 'type', 'actor', 'correlationId'].map((f) => p(f, 'query', `Filter by ${f}`)),
          p('since', 'query', 'A position or an ISO time'),
          p('until', 'query', 'A position or an ISO time'),
          p('after', 'query', 'Paging cursor: the `next` of the previous page'),
          p('limit', 'query', 'Page size, 1-10000'),
          p('format', 'query', 'json (default), ndjson or csv (exports walk every page)'),
        ]),
      },
      '/events/stream': {
        get: {
          summary: 'Live events as Server-Sent Events; resumable with Last-Event-ID',
          responses: { 200: { description: 'text/event-stream' } },
        },
      },
      '/admin/projections': { get: query('Projection positions and lag', { type: 'object' }) },
      '/admin/checksum': { get: query('Checksum of the read models', { type: 'object' }) },
      '/admin/replay': { post: { summary: 'Rebuild all read models; NDJSON progress then the checksums', responses: { 200: { description: 'application/x-ndjson' } } } },
      // The rest, in brief (the README's API table has the details; reply types are in libs/api).
      ...brief({
        'GET /images': 'Images (docker images)',
        'POST /images/import': 'Import a layer tar as an image (body: the tar, streamed; ?tag=&source=&message=)',
        'POST /images/load': 'Load an OCI layout or docker save tarball (body streamed; ?tag=)',
        'GET /images/save': 'An OCI image layout tar of ?ref=…',
        'POST /images/pull': 'Pull from another registry (NDJSON progress; credentials in X-Registry-Auth)',
        'POST /images/push': 'Push to another registry (NDJSON progress; credentials in X-Registry-Auth)',
        'GET /images/{ref}': 'Inspect an image',
        'DELETE /images/{ref}': 'Remove an image (?force=true untags first)',
        'GET /images/{ref}/history': 'One row per layer-making step',
        'GET /images/{ref}/files': 'The union view of the layers (?path=&recursive=)',
        'GET /images/{ref}/content': 'A file of the union view (?path=)',
        'POST /containers': 'Create a container (body: image, name, cmd, env…, node in a cluster)',
        'GET /containers': 'Containers (?all=true)',
        'GET /containers/{ref}': 'Inspect a container',
        'DELETE /containers/{ref}': 'Remove a container (?force=true)',
        'POST /containers/{ref}/start': 'Start', 'POST /containers/{ref}/stop': 'Stop (?t=seconds)', 'POST /containers/{ref}/kill': 'Kill (?signal=)',
        'POST /containers/{ref}/commit': 'Commit the writable layer into an image',
        'GET /containers/{ref}/logs': 'Logs as NDJSON (?follow=&since=&tail=)',
        'POST /builds': 'Build from a Dockerfile (body: the context tar; NDJSON progress)',
        'GET /builds/{id}': 'A build and its steps',
        'GET /nodes': 'Cluster members: state, containers, last heartbeat',
        'POST /nodes/{id}/drain': 'Place nothing new on a node',
        'GET /mirrors': 'Mirrors of remote repositories, with their state, last error and the node that runs each (runner; standby on the others)',
        'GET /mirrors/{id}': 'One mirror',
        'POST /mirrors': 'Follow a repository of another registry (body: source, repository, localRepository, credentials)',
        'DELETE /mirrors/{id}': 'Stop mirroring (the local repository stays)',
        'GET /tokens': 'Principals and their grants (administrators)',
        'POST /tokens': 'Create a principal; its token is in the reply, once',
      }),
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'code', 'detail'],
          properties: {
            type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' },
            code: { type: 'string', description: 'Stable machine-readable code' }, detail: { type: 'string' }, instance: { type: 'string' },
          },
        },
        CommandReply: {
          type: 'object',
          required: ['commandId', 'streamId', 'version', 'position', 'events', 'duplicate'],
          properties: {
            commandId: { type: 'string' }, streamId: { type: 'string' }, version: { type: 'integer' },
            position: { type: 'integer', description: 'Pass as ?minPosition= to read your write' },
            events: { type: 'array', items: { type: 'string' } }, duplicate: { type: 'boolean' },
          },
        },
        ListReply: { type: 'object', properties: { items: { type: 'array', items: {} }, position: { type: 'integer' } } },
        EventsReply: {
          type: 'object',
          properties: { items: { type: 'array', items: {} }, next: { type: ['integer', 'null'] }, position: { type: 'integer' } },
        },
      },
    },
  };
}

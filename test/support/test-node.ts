import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNodeConfig } from '../../apps/strata/src/config/node-config.js';
import { startNode, type RunningNode } from '../../apps/strata/src/node.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestNode {
  node: RunningNode;
  url: string;
  dataDir: string;
  /** fetch against the node with the admin token (override headers to drop or change it). */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  json<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

/** A real node in this process: real SQLite files in a temp dir, HTTP on a free 127.0.0.1 port. */
export async function startTestNode(options: { dataDir?: string; keepData?: boolean; env?: Record<string, string>; nodeId?: string } = {}): Promise<TestNode> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'strata-test-'));
  const config = loadNodeConfig(['--data-dir', dataDir, '--port', '0', '--admin-token', ADMIN_TOKEN, '--node-id', options.nodeId ?? 'node-test'], options.env ?? {});
  const node = await startNode(config, { quiet: true });
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${node.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  return {
    node,
    url: node.url,
    dataDir,
    call,
    async json(method, path, body, headers) {
      const response = await call(method, path, body, headers);
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    async stop() {
      await node.close();
      if (!options.keepData && !options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const digestOf = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

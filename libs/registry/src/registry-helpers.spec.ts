import { existsSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { bearerChallenge, nextLink, pageOf, parseChunkRange, parsePageSize, parseRangeHeader, parseRegistryPath, RegistryError, registryErrorBody, UploadSessions } from './index.js';

describe('the /v2/ URL grammar', () => {
  it('splits names with slashes from the route suffix', () => {
    expect(parseRegistryPath('/v2/')).toMatchObject({ kind: 'base' });
    expect(parseRegistryPath('/v2/_catalog')).toMatchObject({ kind: 'catalog' });
    expect(parseRegistryPath('/v2/a/b/c/manifests/1.0')).toEqual({ kind: 'manifest', name: 'a/b/c', reference: '1.0', nameValid: true });
    expect(parseRegistryPath('/v2/a/blobs/uploads/')).toEqual({ kind: 'uploads', name: 'a', nameValid: true });
    expect(parseRegistryPath('/v2/a/blobs/uploads/u-1')).toEqual({ kind: 'upload', name: 'a', uuid: 'u-1', nameValid: true });
    expect(parseRegistryPath('/v2/a/blobs/sha256:00')).toEqual({ kind: 'blob', name: 'a', digest: 'sha256:00', nameValid: true });
    expect(parseRegistryPath('/v2/x/y/tags/list')).toEqual({ kind: 'tags', name: 'x/y', nameValid: true });
    // A name may itself contain a route word.
    expect(parseRegistryPath('/v2/a/manifests/b/manifests/latest')).toMatchObject({ name: 'a/manifests/b', reference: 'latest' });
  });

  it('recognises a route with an invalid name so it can be answered NAME_INVALID', () => {
    expect(parseRegistryPath('/v2/Upper/tags/list')).toMatchObject({ kind: 'tags', nameValid: false });
    expect(parseRegistryPath('/v2/a//b/tags/list')).toMatchObject({ nameValid: false });
    expect(parseRegistryPath('/v2/a/unknown')).toBeNull();
  });
});

describe('ranges', () => {
  it('reads a GET Range against the blob size', () => {
    expect(parseRangeHeader(undefined, 10)).toBeNull();
    expect(parseRangeHeader('bytes=2-4', 10)).toEqual({ start: 2, end: 4 });
    expect(parseRangeHeader('bytes=2-', 10)).toEqual({ start: 2, end: 9 });
    expect(parseRangeHeader('bytes=5-100', 10)).toEqual({ start: 5, end: 9 });
    expect(parseRangeHeader('bytes=-3', 10)).toEqual({ start: 7, end: 9 });
    expect(parseRangeHeader('bytes=10-', 10)).toBe('unsatisfiable');
    expect(parseRangeHeader('bytes=4-2', 10)).toBe('unsatisfiable');
    expect(parseRangeHeader('bytes=0-1,3-4', 10)).toBeNull(); // multipart ranges: the whole blob instead
  });

  it("reads an upload chunk's Content-Range", () => {
    expect(parseChunkRange(undefined)).toBeNull();
    expect(parseChunkRange('0-99')).toEqual({ start: 0, end: 99 });
    expect(parseChunkRange('bytes 100-199/*')).toEqual({ start: 100, end: 199 });
    expect(parseChunkRange('9-1')).toBe('invalid');
    expect(parseChunkRange('x')).toBe('invalid');
  });
});

describe('paging', () => {
  it('pages lexically after `last`, with the last item as the next cursor', () => {
    const all = ['b', 'a', 'd', 'c'];
    expect(pageOf(all, 2, undefined)).toEqual({ items: ['a', 'b'], next: 'b' });
    expect(pageOf(all, 2, 'b')).toEqual({ items: ['c', 'd'], next: null });
    expect(pageOf(all, 0, undefined)).toEqual({ items: [], next: null });
    expect(pageOf(all, 10, 'bb')).toEqual({ items: ['c', 'd'], next: null });
    expect(nextLink('/v2/a/b/tags/list', 2, 'b')).toBe('</v2/a/b/tags/list?n=2&last=b>; rel="next"');
  });

  it('refuses an n that is not a non-negative integer', () => {
    expect(parsePageSize('5')).toBe(5);
    expect(() => parsePageSize('-1')).toThrow(RegistryError);
    expect(() => parsePageSize(['1', '2'])).toThrow(/non-negative integer/);
  });
});

describe('errors and challenges', () => {
  it('answers in the spec shape, with the status of the code', () => {
    const error = new RegistryError('MANIFEST_BLOB_UNKNOWN', 'push it first', { digest: 'sha256:00' });
    expect(error.status).toBe(400);
    expect(registryErrorBody(error)).toEqual({ errors: [{ code: 'MANIFEST_BLOB_UNKNOWN', message: 'push it first', detail: { digest: 'sha256:00' } }] });
    expect(bearerChallenge('http://h/v2/token', 'strata', 'repository:a/b:pull')).toBe('Bearer realm="http://h/v2/token",service="strata",scope="repository:a/b:pull"');
  });
});

describe('upload sessions', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));
  const body = (text: string) => Readable.from([Buffer.from(text)]);

  it('appends chunks in order, refuses a chunk out of order, belongs to one repository', async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-uploads-'));
    const sessions = await UploadSessions.open(dir);
    const session = await sessions.create('demo/app');
    expect((await sessions.append('demo/app', session.uuid, body('hello '), { expectedStart: 0 })).offset).toBe(6);
    await expect(sessions.append('demo/app', session.uuid, body('x'), { expectedStart: 3 })).rejects.toMatchObject({ code: 'RANGE_INVALID', detail: { offset: 6 } });
    expect((await sessions.append('demo/app', session.uuid, body('world'))).offset).toBe(11);
    await expect(sessions.get('other/repo', session.uuid)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
    await expect(sessions.append('demo/app', session.uuid, body('too much'), { maxBytes: 12 })).rejects.toMatchObject({ code: 'SIZE_INVALID' });
    const seen = await sessions.finish('demo/app', session.uuid, async (s) => s.offset);
    expect(seen).toBe(11); // the refused chunk wrote nothing
    await expect(sessions.get('demo/app', session.uuid)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
  });

  it('sweeps uploads nothing was written to since the cut-off', async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-uploads-'));
    const sessions = await UploadSessions.open(dir);
    const session = await sessions.create('demo/app');
    expect(await sessions.removeStale(new Date(Date.now() - 60_000))).toBe(0);
    expect(await sessions.removeStale(new Date(Date.now() + 60_000))).toBe(1);
    await expect(sessions.get('demo/app', session.uuid)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
  });

  it('expires an upload untouched for its TTL on the first look, files and all', async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-uploads-'));
    const sessions = await UploadSessions.open(dir, { ttlMs: 60_000 });
    const fresh = await sessions.create('demo/app');
    const old = await sessions.create('demo/app');
    await sessions.append('demo/app', old.uuid, body('abc'));
    const past = new Date(Date.now() - 120_000);
    utimesSync(old.dataPath, past, past);
    await expect(sessions.get('demo/app', old.uuid)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
    expect(existsSync(old.dataPath)).toBe(false);
    await expect(sessions.append('demo/app', old.uuid, body('d'), { expectedStart: 3 })).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
    expect((await sessions.get('demo/app', fresh.uuid)).offset).toBe(0);
  });
});

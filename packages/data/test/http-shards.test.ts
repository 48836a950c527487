import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Llm2ClipError } from '@llm2clip/core';
import { SkipReport, WebDatasetSource, openByteStream, readMemberGroups, readTarEntries, writeTarAtomic, type TarEntry } from '../src/index.js';
import { announcedDigest } from '../src/http-digest.js';
import { collect, imageBytes, keysOf } from './helpers/fixtures.js';

let dir: string;
let server: Server;
let base: string;
let shard: Buffer;
let other: Buffer;

const b64 = (algorithm: string, bytes: Buffer): string => createHash(algorithm).update(bytes).digest('base64');
const hex = (algorithm: string, bytes: Buffer): string => createHash(algorithm).update(bytes).digest('hex');

/**
 * Routes: `/good.tar` (Content-Length only), `/digest.tar` (correct `Content-Digest`),
 * `/bad-digest.tar` (a `Content-Digest` of other bytes), `/cut.tar` (Content-Length, then the
 * connection drops mid-body), `/short.tar` (chunked, ends cleanly at a member boundary),
 * `/gzip.tar` (content-coded anyway), `/resolve/{good,bad}.tar` (a hub-style 302 with
 * `X-Linked-Etag` + `X-Linked-Size` to `/cdn/...`).
 */
function handle(request: IncomingMessage, response: ServerResponse): void {
  const route = request.url ?? '/';
  const send = (body: Buffer, headers: Record<string, string> = {}): void => {
    response.writeHead(200, { 'content-type': 'application/x-tar', 'content-length': String(body.length), ...headers });
    response.end(body);
  };
  if (route === '/good.tar' || route === '/cdn/good.tar' || route === '/cdn/bad.tar') return send(shard);
  if (route === '/digest.tar') return send(shard, { 'content-digest': `sha-256=:${b64('sha256', shard)}:` });
  if (route === '/bad-digest.tar') return send(shard, { 'content-digest': `sha-256=:${b64('sha256', other)}:` });
  if (route === '/gzip.tar') {
    const zipped = gzipSync(shard);
    return send(zipped, { 'content-encoding': 'gzip', 'content-digest': `sha-256=:${b64('sha256', zipped)}:` });
  }
  if (route === '/cut.tar') {
    response.writeHead(200, { 'content-length': String(shard.length) });
    response.write(shard.subarray(0, Math.floor(shard.length / 2)));
    setTimeout(() => response.destroy(), 20);
    return;
  }
  if (route === '/short.tar') {
    response.writeHead(200, {});
    // the first member (header + 512-byte-padded data) only, then a clean end of the chunked body
    return void response.end(shard.subarray(0, 512 + Math.ceil(firstMemberSize / 512) * 512));
  }
  if (route === '/cdn/chunked.tar') {
    // no Content-Length (chunked): only the redirect's X-Linked-Size says how long the file is
    response.writeHead(200, {});
    response.write(shard.subarray(0, 1000));
    return void response.end();
  }
  if (route === '/resolve/chunked.tar') {
    response.writeHead(302, { location: '/cdn/chunked.tar', 'x-linked-size': String(shard.length), 'content-length': '0' });
    return void response.end();
  }
  const resolve = /^\/resolve\/(good|bad)\.tar$/.exec(route);
  if (resolve !== null) {
    const etag = resolve[1] === 'good' ? hex('sha256', shard) : hex('sha256', other);
    response.writeHead(302, { location: `/cdn/${resolve[1]}.tar`, 'x-linked-etag': `"${etag}"`, 'x-linked-size': String(shard.length), 'content-length': '0' });
    return void response.end();
  }
  response.writeHead(404).end();
}

let firstMemberSize = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-http-shards-'));
  const entries: TarEntry[] = [];
  for (let i = 0; i < 4; i++) {
    entries.push({ name: `00000${i}.png`, data: await imageBytes('png', i) });
    entries.push({ name: `00000${i}.txt`, data: Buffer.from(`caption ${i}`) });
  }
  firstMemberSize = entries[0].data.byteLength;
  await writeTarAtomic(join(dir, 'shard.tar'), entries);
  shard = await readFile(join(dir, 'shard.tar'));
  other = Buffer.from(shard);
  other[700] ^= 0xff;
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

async function readAll(location: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await openByteStream(location)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function failure(promise: Promise<unknown>): Promise<Llm2ClipError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Llm2ClipError);
  return error as Llm2ClipError;
}

describe('announced body digests', () => {
  it('reads RFC 9530 Content-Digest / Repr-Digest, RFC 3230 Digest and the hub X-Linked-Etag, preferring sha-512', () => {
    const body = Buffer.from('hello');
    const headers = new Headers({ 'content-digest': `md5=:${b64('md5', body)}:, sha-256=:${b64('sha256', body)}:` });
    expect(announcedDigest(headers)).toEqual({ algorithm: 'sha256', hex: hex('sha256', body), header: 'content-digest' });
    expect(announcedDigest(new Headers({ 'repr-digest': `sha-256=:${b64('sha256', body)}:,sha-512=:${b64('sha512', body)}:` }))?.algorithm).toBe('sha512');
    expect(announcedDigest(new Headers({ digest: `SHA-256=${b64('sha256', body)}` }))?.hex).toBe(hex('sha256', body));
    expect(announcedDigest(new Headers(), `"${hex('sha256', body)}"`)?.header).toBe('x-linked-etag');
    // unknown algorithms, malformed values and wrong lengths are ignored
    expect(announcedDigest(new Headers({ 'content-digest': 'sha-256=:bm90IGEgZGlnZXN0:', digest: 'crc32c=AAAAAA==' }), 'abc')).toBeUndefined();
  });
});

describe('http(s) webdataset shards are checked while they stream', () => {
  it('streams a good response whole, with or without a digest, and a content-coded one', async () => {
    expect(await readAll(`${base}/good.tar`)).toEqual(shard);
    expect(await readAll(`${base}/digest.tar`)).toEqual(shard);
    expect(await readAll(`${base}/gzip.tar`)).toEqual(shard);
    expect(keysOf((await collect(readMemberGroups(`${base}/digest.tar`))).map((g) => ({ key: g.key })))).toEqual(['000000', '000001', '000002', '000003']);
  });

  it('fails a response cut before its Content-Length with a typed error naming the URL', async () => {
    const error = await failure(readAll(`${base}/cut.tar`));
    expect(error.code).toBe('E_FORMAT');
    expect(error.path).toBe(`${base}/cut.tar`);
    expect(error.message).toMatch(new RegExp(`truncated response: the connection broke after \\d+ of ${shard.length} bytes`));
    const viaTar = await failure(collect(readTarEntries(`${base}/cut.tar`)));
    expect(viaTar.message).toMatch(/truncated response/);
  });

  it('counts a truncated http shard as truncated-shard and goes on with the next shard', async () => {
    const report = new SkipReport();
    const source = new WebDatasetSource([`${base}/cut.tar`, `${base}/good.tar`], { skipReport: report });
    const samples = await collect(source);
    expect(report.count('truncated-shard')).toBe(1);
    expect(report.summary().examples[0]).toMatchObject({ reason: 'truncated-shard', file: `${base}/cut.tar` });
    // the samples before the cut, then all of the good shard
    expect(samples.length).toBeGreaterThanOrEqual(4);
    expect(keysOf(samples).slice(-4)).toEqual(['000000', '000001', '000002', '000003']);
    await expect(collect(new WebDatasetSource(`${base}/cut.tar`))).rejects.toThrow(/E_FORMAT.*truncated response/);
  });

  it('still catches a chunked body that ends cleanly at a member boundary (end-of-archive marker)', async () => {
    const error = await failure(collect(readTarEntries(`${base}/short.tar`)));
    expect(error.message).toMatch(/truncated/);
  });

  it('refuses a body whose announced digest differs, naming both digests; a skip report counts it as corrupt-shard', async () => {
    const error = await failure(readAll(`${base}/bad-digest.tar`));
    expect(error.code).toBe('E_FORMAT');
    expect(error.message).toContain(`checksum mismatch: the body's sha256 is ${hex('sha256', shard)}, content-digest says ${hex('sha256', other)}`);
    expect(error.path).toBe(`${base}/bad-digest.tar`);
    const report = new SkipReport();
    await collect(readMemberGroups(`${base}/bad-digest.tar`, { onShardError: 'skip', skipReport: report }));
    expect(report.count('corrupt-shard')).toBe(1);
  });

  it('follows a hub redirect and checks the body against its X-Linked-Etag', async () => {
    expect(await readAll(`${base}/resolve/good.tar`)).toEqual(shard);
    const error = await failure(readAll(`${base}/resolve/bad.tar`));
    expect(error.message).toContain(`x-linked-etag says ${hex('sha256', other)}`);
    expect(error.path).toBe(`${base}/resolve/bad.tar`);
    await expect(readAll(`${base}/missing.tar`)).rejects.toThrow(/E_NOT_FOUND/);
    // a chunked body that ends cleanly before the redirect's X-Linked-Size is truncated too
    const short = await failure(readAll(`${base}/resolve/chunked.tar`));
    expect(short.message).toContain(`truncated response: ended after 1000 of ${shard.length} bytes`);
  });
});

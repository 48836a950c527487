import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, readdir, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Llm2ClipError } from '@llm2clip/core';
import { hubDownload, repoCacheDir } from '../src/index.js';
import { BlobHasher, digestFromEtag } from '../src/download-verify.js';
import { tempDir } from './fixtures.js';

const COMMIT = 'c'.repeat(40);
const REPO = 'acme/verify';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const gitSha1 = (bytes: Buffer): string => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');

interface ServedFile {
  /** The true content: what the etag and size headers describe. */
  bytes: Buffer;
  lfs: boolean;
  /** What GET actually sends, when it differs from `bytes` (corruption, extra bytes). */
  served?: Buffer;
}

/**
 * A loopback server with the hub's headers. `HEAD`/`GET /{repo}/resolve/main/{file}`: a regular
 * file answers 200 with `ETag` (git blob sha1) and `Content-Length`; an LFS file answers 302 to
 * an absolute CDN URL with `X-Linked-Etag` (sha256), `X-Linked-Size` and a redirect body of its
 * own `Content-Length`. Bodies honour `Range: bytes=N-` with 206 + `Content-Range` unless
 * `ignoreRange`. `cut` stops one body after some bytes, by resetting the connection or, with
 * `clean`, by ending a chunked body early.
 */
class HubImitation {
  files = new Map<string, ServedFile>();
  requests: string[] = [];
  ignoreRange = false;
  cut: { file: string; bytes: number; clean?: boolean } | undefined;
  readonly server: Server = createServer((req, res) => this.handle(req, res));
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url!, this.url);
    this.requests.push(`${req.method} ${url.pathname}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (cdn !== null) {
      const entry = [...this.files.entries()].find(([, f]) => f.lfs && sha256(f.bytes) === cdn[1]);
      if (entry === undefined) return void res.writeHead(404).end();
      return this.sendBody(req, res, entry[0], entry[1]);
    }
    const match = /^\/acme\/verify\/resolve\/(?:main|c{40})\/(.+)$/.exec(url.pathname);
    const name = match === null ? undefined : decodeURIComponent(match[1]);
    const file = name === undefined ? undefined : this.files.get(name);
    if (file === undefined) return void res.writeHead(404, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': COMMIT }).end();
    if (file.lfs) {
      const body = 'Found. Redirecting to the CDN';
      res.writeHead(302, {
        Location: `${this.url}/cdn/${sha256(file.bytes)}`,
        'X-Repo-Commit': COMMIT,
        'X-Linked-Etag': `"${sha256(file.bytes)}"`,
        'X-Linked-Size': String(file.bytes.length),
        ETag: `"${gitSha1(Buffer.from('version https://git-lfs.github.com/spec/v1\n'))}"`,
        'Content-Length': String(body.length),
      });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    res.setHeader('X-Repo-Commit', COMMIT);
    res.setHeader('ETag', `"${gitSha1(file.bytes)}"`);
    this.sendBody(req, res, name!, file);
  }

  private sendBody(req: IncomingMessage, res: ServerResponse, name: string, file: ServedFile): void {
    const bytes = file.served ?? file.bytes;
    const range = this.ignoreRange ? null : /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range === null ? 0 : Number(range[1]);
    const body = bytes.subarray(start);
    const cut = req.method === 'GET' && this.cut?.file === name ? this.cut : undefined;
    const headers: Record<string, string> = { 'Accept-Ranges': 'bytes' };
    if (!cut?.clean) headers['Content-Length'] = String(body.length);
    if (range !== null) headers['Content-Range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    res.writeHead(range !== null ? 206 : 200, headers);
    if (req.method === 'HEAD') return void res.end();
    if (cut !== undefined) {
      this.cut = undefined;
      res.write(body.subarray(0, cut.bytes));
      if (cut.clean) return void res.end();
      setTimeout(() => res.destroy(), 20);
      return;
    }
    res.end(body);
  }
}

const hub = new HubImitation();
let cacheDir: string;
const options = () => ({ cacheDir, endpoint: hub.url, offline: false });
const blobsDir = () => join(repoCacheDir(REPO, cacheDir), 'blobs');
const snapshotPath = (file: string) => join(repoCacheDir(REPO, cacheDir), 'snapshots', COMMIT, file);

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function rejection(promise: Promise<unknown>): Promise<Llm2ClipError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Llm2ClipError);
  return error as Llm2ClipError;
}

beforeAll(() => hub.start());
afterAll(() => new Promise<void>((resolve) => hub.server.close(() => resolve())));
beforeEach(async () => {
  cacheDir = await tempDir('hf-verify-');
  hub.files.clear();
  hub.requests.length = 0;
  hub.ignoreRange = false;
  hub.cut = undefined;
});

describe('digests the hub names blobs by', () => {
  it('reads sha256 and git blob sha1 etags, and computes git blob ids as git does', () => {
    expect(digestFromEtag('A'.repeat(64))).toEqual({ algorithm: 'sha256', hex: 'a'.repeat(64) });
    expect(digestFromEtag('b'.repeat(40))).toEqual({ algorithm: 'git-sha1', hex: 'b'.repeat(40) });
    expect(digestFromEtag('5f3a-1234')).toBeUndefined();
    // `printf 'Hello, World!' | git hash-object --stdin`
    const hasher = new BlobHasher('git-sha1', 13);
    hasher.update(Buffer.from('Hello, World!'));
    expect(hasher.digest()).toBe('b45ef6fec89518d314f546fd6c3025367b721684');
    const short = new BlobHasher('git-sha1', 14);
    short.update(Buffer.from('Hello, World!'));
    expect(short.digest()).toBeUndefined();
  });
});

describe('hub downloads are verified before they are used', () => {
  it('downloads a good LFS file through the CDN redirect into its sha256 blob', async () => {
    const bytes = randomBytes(70_000);
    hub.files.set('model.safetensors', { bytes, lfs: true });
    const path = await hubDownload(REPO, 'model.safetensors', options());
    expect(await readFile(path)).toEqual(bytes);
    expect(await readlink(path)).toBe(`../../blobs/${sha256(bytes)}`);
    expect(hub.requests).toEqual(['HEAD /acme/verify/resolve/main/model.safetensors', `GET /cdn/${sha256(bytes)}`]);
    expect(await readdir(blobsDir())).toEqual([sha256(bytes)]);
  });

  it('downloads a good regular file into its git blob sha1', async () => {
    const bytes = Buffer.from(JSON.stringify({ hidden_size: 32 }));
    hub.files.set('config.json', { bytes, lfs: false });
    const path = await hubDownload(REPO, 'config.json', options());
    expect(await readFile(path)).toEqual(bytes);
    expect(await readlink(path)).toBe(`../../blobs/${gitSha1(bytes)}`);
  });

  it('refuses corrupted bytes with E_MISMATCH naming the URL and both digests, and keeps nothing', async () => {
    const bytes = randomBytes(5000);
    const served = Buffer.from(bytes);
    served[1234] ^= 0xff;
    hub.files.set('model.safetensors', { bytes, lfs: true, served });
    const error = await rejection(hubDownload(REPO, 'model.safetensors', options()));
    expect(error.code).toBe('E_MISMATCH');
    expect(error.message).toContain(`${hub.url}/cdn/${sha256(bytes)}`);
    expect(error.message).toContain(sha256(bytes));
    expect(error.message).toContain(sha256(served));
    expect(await readdir(blobsDir())).toEqual([]);
    expect(await exists(snapshotPath('model.safetensors'))).toBe(false);
    // a regular file is checked against its git blob id the same way
    const config = Buffer.from('{"a": 1}');
    hub.files.set('config.json', { bytes: config, lfs: false, served: Buffer.from('{"a": 2}') });
    const regular = await rejection(hubDownload(REPO, 'config.json', options()));
    expect(regular.code).toBe('E_MISMATCH');
    expect(regular.message).toMatch(new RegExp(`git-sha1 is ${gitSha1(Buffer.from('{"a": 2}'))}.*${gitSha1(config)}`));
    expect(await readdir(blobsDir())).toEqual([]);
  });

  it('refuses a body longer than the hub announced and deletes it', async () => {
    const bytes = randomBytes(3000);
    hub.files.set('model.safetensors', { bytes, lfs: true, served: Buffer.concat([bytes, randomBytes(100)]) });
    const error = await rejection(hubDownload(REPO, 'model.safetensors', options()));
    expect(error.code).toBe('E_MISMATCH');
    expect(error.message).toMatch(/more than the 3000 bytes/);
    expect(await readdir(blobsDir())).toEqual([]);
  });

  it('keeps a truncated body as .incomplete (never linked), then resumes it with Range and verifies the whole file', async () => {
    const bytes = randomBytes(50_000);
    const blob = sha256(bytes);
    hub.files.set('model.safetensors', { bytes, lfs: true });
    hub.cut = { file: 'model.safetensors', bytes: 20_000 };
    const error = await rejection(hubDownload(REPO, 'model.safetensors', options()));
    expect(error.code).toBe('E_IO');
    expect(error.message).toMatch(/interrupted after 20000 bytes.*resume/);
    expect(await readdir(blobsDir())).toEqual([`${blob}.incomplete`]);
    expect(await exists(snapshotPath('model.safetensors'))).toBe(false);
    hub.requests.length = 0;
    const path = await hubDownload(REPO, 'model.safetensors', options());
    expect(hub.requests).toContain(`GET /cdn/${blob} bytes=20000-`);
    expect(await readFile(path)).toEqual(bytes);
    expect(await readdir(blobsDir())).toEqual([blob]);
  });

  it('treats a body that ends cleanly but short as incomplete', async () => {
    const bytes = Buffer.from('x'.repeat(4000));
    hub.files.set('tokenizer.json', { bytes, lfs: false });
    hub.cut = { file: 'tokenizer.json', bytes: 1500, clean: true };
    const error = await rejection(hubDownload(REPO, 'tokenizer.json', options()));
    expect(error.code).toBe('E_IO');
    expect(error.message).toMatch(/ended after 1500 of 4000 bytes/);
    expect(await exists(snapshotPath('tokenizer.json'))).toBe(false);
    expect(await readFile(await hubDownload(REPO, 'tokenizer.json', options()))).toEqual(bytes);
  });

  it('hashes the partial file too: a resumed download whose kept part is corrupt is refused', async () => {
    const bytes = randomBytes(8000);
    hub.files.set('model.safetensors', { bytes, lfs: true });
    await mkdir(blobsDir(), { recursive: true });
    const partial = Buffer.from(bytes.subarray(0, 3000));
    partial[10] ^= 1;
    await writeFile(join(blobsDir(), `${sha256(bytes)}.incomplete`), partial);
    const error = await rejection(hubDownload(REPO, 'model.safetensors', options()));
    expect(hub.requests).toContain(`GET /cdn/${sha256(bytes)} bytes=3000-`);
    expect(error.code).toBe('E_MISMATCH');
    expect(await readdir(blobsDir())).toEqual([]);
    // the next call starts from scratch and succeeds
    expect(await readFile(await hubDownload(REPO, 'model.safetensors', options()))).toEqual(bytes);
  });

  it('restarts cleanly when the server ignores Range and answers 200 with the whole file', async () => {
    const bytes = randomBytes(9000);
    hub.files.set('model.safetensors', { bytes, lfs: true });
    hub.ignoreRange = true;
    await mkdir(blobsDir(), { recursive: true });
    await writeFile(join(blobsDir(), `${sha256(bytes)}.incomplete`), bytes.subarray(0, 4000));
    const path = await hubDownload(REPO, 'model.safetensors', options());
    expect(hub.requests).toContain(`GET /cdn/${sha256(bytes)} bytes=4000-`);
    expect(await readFile(path)).toEqual(bytes);
  });

  it('restarts a partial file longer than the file, and verifies a complete one without fetching', async () => {
    const bytes = randomBytes(2000);
    hub.files.set('model.safetensors', { bytes, lfs: true });
    await mkdir(blobsDir(), { recursive: true });
    const incomplete = join(blobsDir(), `${sha256(bytes)}.incomplete`);
    await writeFile(incomplete, Buffer.concat([bytes, Buffer.from('junk')]));
    expect(await readFile(await hubDownload(REPO, 'model.safetensors', options()))).toEqual(bytes);
    expect(hub.requests.filter((r) => r.startsWith('GET'))).toEqual([`GET /cdn/${sha256(bytes)}`]);
    // a run killed between the last byte and the rename: the partial file is complete
    const other = Buffer.from('{"b": 2}');
    hub.files.set('config.json', { bytes: other, lfs: false });
    await writeFile(join(blobsDir(), `${gitSha1(other)}.incomplete`), other);
    hub.requests.length = 0;
    expect(await readFile(await hubDownload(REPO, 'config.json', options()))).toEqual(other);
    expect(hub.requests).toEqual(['HEAD /acme/verify/resolve/main/config.json']);
  });

  it('trusts a cached blob only when its size matches, and re-hashes it with verifyCache', async () => {
    const bytes = randomBytes(6000);
    const blob = join(blobsDir(), sha256(bytes));
    hub.files.set('model.safetensors', { bytes, lfs: true });
    await mkdir(blobsDir(), { recursive: true });
    // wrong size: downloaded again
    await writeFile(blob, bytes.subarray(0, 100));
    expect(await readFile(await hubDownload(REPO, 'model.safetensors', options()))).toEqual(bytes);
    expect(hub.requests.some((r) => r.startsWith('GET /cdn/'))).toBe(true);
    // right size, wrong bytes: trusted by default (no GET), replaced with verifyCache
    const bad = Buffer.from(bytes);
    bad[0] ^= 1;
    await writeFile(blob, bad);
    hub.requests.length = 0;
    expect(await readFile(await hubDownload(REPO, 'model.safetensors', options()))).toEqual(bad);
    expect(hub.requests.some((r) => r.startsWith('GET'))).toBe(false);
    expect(await readFile(await hubDownload(REPO, 'model.safetensors', { ...options(), verifyCache: true }))).toEqual(bytes);
    // offline, a corrupt cached file is E_MISMATCH with verifyCache, and used as it is without
    await writeFile(blob, bad);
    const error = await rejection(hubDownload(REPO, 'model.safetensors', { ...options(), offline: true, verifyCache: true }));
    expect(error.code).toBe('E_MISMATCH');
    expect(await readFile(await hubDownload(REPO, 'model.safetensors', { ...options(), offline: true }))).toEqual(bad);
    // an unreachable hub falls back to the cache, but not to a cached file that fails verifyCache
    const unreachable = { ...options(), endpoint: 'http://127.0.0.1:9' };
    expect(await readFile(await hubDownload(REPO, 'model.safetensors', unreachable))).toEqual(bad);
    expect((await rejection(hubDownload(REPO, 'model.safetensors', { ...unreachable, verifyCache: true }))).message).toMatch(/E_IO.*cannot reach.*does not match its digest/);
    // a pinned commit online with verifyCache downloads the file again
    expect(await readFile(await hubDownload(REPO, 'model.safetensors', { ...options(), revision: COMMIT, verifyCache: true }))).toEqual(bytes);
  });
});

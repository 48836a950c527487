import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, readlink, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, type ProgressEvent } from '@llm2clip/core';
import { LlamaModel, LlmEmbedder, LoraAdapter, hubDownload, hubOfflineFromEnv, isHubRepoId, repoCacheDir } from '../src/index.js';
import { tempDir, tinyConfig, writeTinyTokenizer } from './fixtures.js';

const COMMIT = 'a'.repeat(40);
const REPO = 'acme/tiny-llama';

interface HubFile {
  bytes: Buffer;
  lfs: boolean;
}

/**
 * A loopback server that answers like the hub's `/{repo}/resolve/{rev}/{file}`: regular files with
 * `ETag` (git blob sha1), LFS files (safetensors) with a 302 to a CDN path plus `X-Linked-Etag`
 * (sha256) and `X-Linked-Size`, `X-Repo-Commit` always, `Range` requests answered with 206, and
 * 404 + `X-Error-Code: EntryNotFound` for absent files. `cutAfter` truncates one GET body once.
 */
class FakeHub {
  files = new Map<string, HubFile>();
  requests: string[] = [];
  cutAfter: { file: string; bytes: number } | undefined;
  server: Server;
  url = '';

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private etag(file: HubFile): string {
    return file.lfs ? createHash('sha256').update(file.bytes).digest('hex') : createHash('sha1').update(`blob ${file.bytes.length}\0`).update(file.bytes).digest('hex');
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url!, this.url);
    this.requests.push(`${req.method} ${url.pathname}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    const cdn = /^\/cdn\/(.+)$/.exec(url.pathname);
    if (cdn !== null) {
      const file = [...this.files.values()].find((f) => this.etag(f) === cdn[1]);
      if (file === undefined) return void res.writeHead(404).end();
      return this.sendBody(req, res, file, decodeURIComponent(url.searchParams.get('name') ?? ''));
    }
    const match = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (match === null || match[1] !== REPO || (match[2] !== 'main' && match[2] !== COMMIT)) {
      return void res.writeHead(404, { 'X-Error-Code': 'RepoNotFound' }).end();
    }
    const name = decodeURIComponent(match[3]);
    const file = this.files.get(name);
    if (file === undefined) return void res.writeHead(404, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': COMMIT }).end();
    const etag = this.etag(file);
    if (file.lfs) {
      res.writeHead(302, {
        Location: `${this.url}/cdn/${etag}?name=${encodeURIComponent(name)}`,
        'X-Repo-Commit': COMMIT,
        'X-Linked-Etag': `"${etag}"`,
        'X-Linked-Size': String(file.bytes.length),
        ETag: '"not-the-blob-id"',
      });
      return void res.end();
    }
    res.setHeader('X-Repo-Commit', COMMIT);
    res.setHeader('ETag', `"${etag}"`);
    this.sendBody(req, res, file, name);
  }

  private sendBody(req: IncomingMessage, res: ServerResponse, file: HubFile, name: string): void {
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range !== null) start = Number(range[1]);
    const body = file.bytes.subarray(start);
    const headers: Record<string, string> = { 'Content-Length': String(body.length), 'Accept-Ranges': 'bytes' };
    if (range !== null) headers['Content-Range'] = `bytes ${start}-${file.bytes.length - 1}/${file.bytes.length}`;
    res.writeHead(range !== null ? 206 : 200, headers);
    if (req.method === 'HEAD') return void res.end();
    if (this.cutAfter !== undefined && this.cutAfter.file === name) {
      const cut = this.cutAfter.bytes;
      this.cutAfter = undefined;
      res.write(body.subarray(0, cut));
      setTimeout(() => res.destroy(), 20);
      return;
    }
    res.end(body);
  }
}

const hub = new FakeHub();
let modelDir: string;

beforeAll(async () => {
  await hub.start();
  modelDir = await tempDir();
  const model = LlamaModel.create(tinyConfig(), new Rng(21));
  await model.save(modelDir, { maxShardBytes: 30_000 });
  await writeTinyTokenizer(modelDir);
  const lora = LoraAdapter.attach(model, { r: 2, alpha: 4, dropout: 0 }, new Rng(22));
  await lora.saveAdapter(join(modelDir, 'adapter'));
  for (const file of await readdir(modelDir)) {
    if (file === 'adapter') continue;
    hub.files.set(file, { bytes: await readFile(join(modelDir, file)), lfs: file.endsWith('.safetensors') });
  }
  model.dispose();
});

afterAll(() => new Promise<void>((resolve) => hub.server.close(() => resolve())));

describe('hub download into the Hugging Face cache layout', () => {
  it('recognises hub ids and reads HF_HUB_OFFLINE', () => {
    expect(isHubRepoId('meta-llama/Llama-3.2-1B-Instruct')).toBe(true);
    expect(isHubRepoId('gpt2')).toBe(true);
    expect(isHubRepoId('a/b/c')).toBe(false);
    expect(isHubRepoId('/abs/path')).toBe(false);
    expect(hubOfflineFromEnv({ HF_HUB_OFFLINE: '1' })).toBe(true);
    expect(hubOfflineFromEnv({})).toBe(false);
  });

  it('downloads a sharded model with progress into blobs/refs/snapshots and loads it through LlmEmbedder', async () => {
    const cacheDir = await tempDir('hf-cache-');
    const events: ProgressEvent[] = [];
    const embedder = await LlmEmbedder.fromPretrained(REPO, { hub: { cacheDir, endpoint: hub.url, offline: false }, onProgress: (e) => events.push(e) });
    const repoDir = repoCacheDir(REPO, cacheDir);
    expect(await readFile(join(repoDir, 'refs', 'main'), 'utf8')).toBe(COMMIT);
    const snapshot = join(repoDir, 'snapshots', COMMIT);
    const files = (await readdir(snapshot)).sort();
    expect(files).toEqual([...hub.files.keys()].sort());
    for (const file of files) {
      const link = await readlink(join(snapshot, file));
      expect(link.startsWith('../../blobs/')).toBe(true);
      expect(await readFile(join(snapshot, file))).toEqual(hub.files.get(file)!.bytes);
    }
    // LFS blobs are named by sha256 (X-Linked-Etag), regular files by the git blob id (ETag)
    const shard = files.find((f) => f.endsWith('.safetensors'))!;
    expect(await readlink(join(snapshot, shard))).toBe(`../../blobs/${createHash('sha256').update(hub.files.get(shard)!.bytes).digest('hex')}`);
    expect(events.some((e) => e.task === 'download' && e.unit === 'byte' && e.done === e.total)).toBe(true);
    expect(events.some((e) => e.task === 'load' && e.unit === 'tensor')).toBe(true);
    const vectors = await embedder.embed(['a red cube'], { batchSize: 1 });
    expect(vectors.rows).toBe(1);
    embedder.dispose();
    // absent optional files are remembered under .no_exist
    expect(await stat(join(repoDir, '.no_exist', COMMIT, 'model.safetensors'))).toBeTruthy();
    // later loads of the hub id work offline from the cache, without any request
    hub.requests.length = 0;
    const model = await LlamaModel.fromPretrained(REPO, { hub: { cacheDir, endpoint: hub.url, offline: true } });
    expect(model.config.hidden_size).toBe(32);
    expect(hub.requests).toEqual([]);
    model.dispose();
  });

  it('resumes an interrupted download from its .incomplete blob with a Range request', async () => {
    const cacheDir = await tempDir('hf-cache-');
    const name = 'model.safetensors.index.json';
    const shard = [...hub.files.keys()].find((f) => f.endsWith('.safetensors'))!;
    hub.cutAfter = { file: shard, bytes: 1000 };
    await expect(hubDownload(REPO, shard, { cacheDir, endpoint: hub.url, offline: false })).rejects.toThrow(/E_IO.*resume/);
    const blobs = join(repoCacheDir(REPO, cacheDir), 'blobs');
    const partial = (await readdir(blobs)).find((f) => f.endsWith('.incomplete'))!;
    expect((await stat(join(blobs, partial))).size).toBe(1000);
    hub.requests.length = 0;
    const path = await hubDownload(REPO, shard, { cacheDir, endpoint: hub.url, offline: false });
    expect(hub.requests.some((r) => r.startsWith('GET /cdn/') && r.endsWith('bytes=1000-'))).toBe(true);
    expect(await readFile(path)).toEqual(hub.files.get(shard)!.bytes);
    expect((await readdir(blobs)).some((f) => f.endsWith('.incomplete'))).toBe(false);
    expect(await hubDownload(REPO, name, { cacheDir, endpoint: hub.url, offline: false })).toContain(COMMIT);
  });

  it('reuses a cache filled by Python without downloading, and works offline from it', async () => {
    const cacheDir = await tempDir('hf-cache-');
    const repoDir = repoCacheDir(REPO, cacheDir);
    // lay the cache out as huggingface_hub does: blobs by etag, refs/main, relative symlinks
    const fileName = 'config.json';
    const bytes = hub.files.get(fileName)!.bytes;
    const etag = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
    await mkdir(join(repoDir, 'blobs'), { recursive: true });
    await writeFile(join(repoDir, 'blobs', etag), bytes);
    await mkdir(join(repoDir, 'refs'), { recursive: true });
    await writeFile(join(repoDir, 'refs', 'main'), COMMIT);
    await mkdir(join(repoDir, 'snapshots', COMMIT), { recursive: true });
    await symlink(`../../blobs/${etag}`, join(repoDir, 'snapshots', COMMIT, fileName));
    hub.requests.length = 0;
    const online = await hubDownload(REPO, fileName, { cacheDir, endpoint: hub.url, offline: false });
    expect(hub.requests.filter((r) => r.startsWith('GET'))).toEqual([]);
    expect(await readFile(online)).toEqual(bytes);
    hub.requests.length = 0;
    const offline = await hubDownload(REPO, fileName, { cacheDir, endpoint: hub.url, offline: true });
    expect(offline).toBe(join(repoDir, 'snapshots', COMMIT, fileName));
    expect(hub.requests).toEqual([]);
    // a pinned commit in the cache needs no network either
    expect(await hubDownload(REPO, fileName, { cacheDir, endpoint: 'http://127.0.0.1:9', revision: COMMIT, offline: false })).toBe(offline);
  });

  it('offline, names the path it looked for; online, reports files the hub does not have', async () => {
    const cacheDir = await tempDir('hf-cache-');
    const expected = join(repoCacheDir(REPO, cacheDir), 'refs', 'main');
    await expect(hubDownload(REPO, 'config.json', { cacheDir, endpoint: hub.url, offline: true })).rejects.toThrow(
      new RegExp(`E_NOT_FOUND.*HF_HUB_OFFLINE.*${expected.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`),
    );
    await expect(LlmEmbedder.fromPretrained(REPO, { hub: { cacheDir, endpoint: hub.url, offline: true } })).rejects.toThrow(/E_NOT_FOUND.*no local model at acme\/tiny-llama.*HF_HUB_OFFLINE/);
    await expect(hubDownload(REPO, 'nope.bin', { cacheDir, endpoint: hub.url, offline: false })).rejects.toThrow(/E_NOT_FOUND.*nope\.bin/);
    await expect(hubDownload('acme/other', 'config.json', { cacheDir, endpoint: hub.url, offline: false })).rejects.toThrow(/E_NOT_FOUND/);
    await expect(hubDownload(REPO, '../escape', { cacheDir, endpoint: hub.url })).rejects.toThrow(/E_CONFIG/);
    // an unreachable hub with nothing cached is an I/O error naming the cache path
    await expect(hubDownload(REPO, 'config.json', { cacheDir, endpoint: 'http://127.0.0.1:9', offline: false })).rejects.toThrow(/E_IO.*cannot reach/);
    expect(dirname(expected)).toContain('models--acme--tiny-llama');
  });
});

import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, symlink, rm, writeFile, lstat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Llm2ClipError, type ProgressCallback } from '@llm2clip/core';

/**
 * Downloads from the Hugging Face hub into the cache layout that `huggingface_hub` (Python) uses,
 * so either side reuses the other's downloads:
 *
 * ```
 * <cache>/models--<org>--<name>/blobs/<etag>                 file contents (sha256 for LFS files)
 * <cache>/models--<org>--<name>/blobs/<etag>.incomplete      partial download, resumed with Range
 * <cache>/models--<org>--<name>/refs/<revision>              commit hash of a branch or tag
 * <cache>/models--<org>--<name>/snapshots/<commit>/<file>    relative symlink to ../../blobs/<etag>
 * <cache>/models--<org>--<name>/.no_exist/<commit>/<file>    marker: the file does not exist
 * ```
 */

/** Options of the hub functions. */
export interface HubOptions {
  /** Branch, tag or commit. Default `main`. */
  revision?: string;
  /** Cache root. Default `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`. */
  cacheDir?: string;
  /** Hub URL. Default `$HF_ENDPOINT`, else `https://huggingface.co`. */
  endpoint?: string;
  /** Access token. Default `$HF_TOKEN`. Sent to the endpoint only, never to redirect targets on other hosts. */
  token?: string;
  /** Never touch the network (`$HF_HUB_OFFLINE=1` sets it). Default from the environment. */
  offline?: boolean;
  /** Byte progress of each download (`task: 'download'`, `unit: 'byte'`, `values.file`). */
  onProgress?: ProgressCallback;
}

const COMMIT = /^[0-9a-f]{40}$/;
/** How long a metadata request may take (huggingface_hub's default etag timeout is 10 s). */
const HEAD_TIMEOUT_MS = 10_000;

/** Whether `$HF_HUB_OFFLINE` forbids network access. */
export function hubOfflineFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return ['1', 'ON', 'YES', 'TRUE'].includes((env.HF_HUB_OFFLINE ?? '').toUpperCase());
}

/** The cache root that `huggingface_hub` would use. */
export function defaultHubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface', 'hub');
}

/** True for strings shaped like a hub model id (`name` or `org/name`). */
export function isHubRepoId(value: string): boolean {
  return /^(?:[A-Za-z0-9][\w.-]{0,95}\/)?[A-Za-z0-9][\w.-]{0,95}$/.test(value) && !value.includes('..') && !value.endsWith('.gguf');
}

/** The cache folder of a model repo: `models--org--name`. */
export function repoCacheDir(repoId: string, cacheDir = defaultHubCacheDir()): string {
  if (!isHubRepoId(repoId)) throw new Llm2ClipError('E_CONFIG', `${JSON.stringify(repoId)} is not a hub model id (org/name)`, { field: 'repoId' });
  return join(cacheDir, `models--${repoId.split('/').join('--')}`);
}

function checkFilename(filename: string): void {
  if (filename.length === 0 || filename.startsWith('/') || filename.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    throw new Llm2ClipError('E_CONFIG', `file name ${JSON.stringify(filename)} must be a relative path inside the repo`, { field: 'filename' });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function normalizeEtag(etag: string | null): string | undefined {
  if (etag === null) return undefined;
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

interface ResolvedCache {
  commit: string | undefined;
  path: string | undefined;
  knownMissing: boolean;
  looked: string;
}

async function lookInCache(repoDir: string, revision: string, filename: string): Promise<ResolvedCache> {
  let commit: string | undefined = COMMIT.test(revision) ? revision : undefined;
  const refPath = join(repoDir, 'refs', revision);
  if (commit === undefined) {
    try {
      commit = (await readFile(refPath, 'utf8')).trim();
    } catch {
      return { commit: undefined, path: undefined, knownMissing: false, looked: refPath };
    }
  }
  const snapshotPath = join(repoDir, 'snapshots', commit, filename);
  if (await exists(snapshotPath)) return { commit, path: snapshotPath, knownMissing: false, looked: snapshotPath };
  const knownMissing = await exists(join(repoDir, '.no_exist', commit, filename));
  return { commit, path: undefined, knownMissing, looked: snapshotPath };
}

async function linkSnapshot(repoDir: string, commit: string, filename: string, etag: string): Promise<string> {
  const target = join(repoDir, 'snapshots', commit, filename);
  await mkdir(dirname(target), { recursive: true });
  try {
    await lstat(target);
    await rm(target, { force: true });
  } catch {
    // no previous link
  }
  await symlink(relative(dirname(target), join(repoDir, 'blobs', etag)), target);
  return target;
}

async function writeRef(repoDir: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const refPath = join(repoDir, 'refs', revision);
  await mkdir(dirname(refPath), { recursive: true });
  let current: string | undefined;
  try {
    current = await readFile(refPath, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== commit) await writeFile(refPath, commit);
}

/**
 * Returns the local path of `filename` from hub repo `repoId` at `revision`, downloading it into
 * the cache first when needed. Online, the file's commit and etag come from a `HEAD` on
 * `<endpoint>/<repo>/resolve/<revision>/<file>` (`X-Repo-Commit`, `X-Linked-Etag` or `ETag`); a blob
 * already in the cache (from Python or an earlier run) is linked, not downloaded again; a partial
 * `.incomplete` blob is resumed with a `Range` request. Offline (or when the hub cannot be reached)
 * the cache alone answers; a file that is not there is `E_NOT_FOUND` naming the path looked for.
 * A file the hub reports absent is `E_NOT_FOUND` too (and remembered under `.no_exist`).
 */
export async function hubDownload(repoId: string, filename: string, options: HubOptions = {}): Promise<string> {
  checkFilename(filename);
  const revision = options.revision ?? 'main';
  const cacheDir = options.cacheDir ?? defaultHubCacheDir();
  const repoDir = repoCacheDir(repoId, cacheDir);
  const offline = options.offline ?? hubOfflineFromEnv();
  const cached = await lookInCache(repoDir, revision, filename);
  // a pinned commit that is already in the cache never needs the network (as huggingface_hub)
  if (cached.path !== undefined && (offline || COMMIT.test(revision))) return cached.path;
  if (offline) {
    if (cached.knownMissing) throw new Llm2ClipError('E_NOT_FOUND', `${repoId} has no file ${filename} at ${revision} (cached answer; offline)`, { path: cached.looked });
    throw new Llm2ClipError('E_NOT_FOUND', `${repoId}/${filename} is not in the hub cache and network access is off (HF_HUB_OFFLINE)`, { path: cached.looked });
  }
  const endpoint = (options.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/$/, '');
  const token = options.token ?? process.env.HF_TOKEN;
  const url = `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${filename.split('/').map(encodeURIComponent).join('/')}`;
  const headers: Record<string, string> = { 'Accept-Encoding': 'identity', 'User-Agent': 'llm2clip-ts' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let head: Response;
  let location = url;
  try {
    // follow relative redirects only (renamed repos); an absolute one points at the file store
    for (let hops = 0; ; hops++) {
      head = await fetch(location, { method: 'HEAD', headers, redirect: 'manual', signal: AbortSignal.timeout(HEAD_TIMEOUT_MS) });
      const next = head.headers.get('location');
      if (head.status >= 300 && head.status < 400 && next !== null && next.startsWith('/') && hops < 10) {
        location = new URL(next, location).toString();
        continue;
      }
      break;
    }
  } catch (cause) {
    if (cached.path !== undefined) return cached.path;
    throw new Llm2ClipError('E_IO', `cannot reach the hub at ${endpoint} and ${repoId}/${filename} is not cached`, { path: cached.looked, cause });
  }
  if (head.status === 404) {
    const commit = head.headers.get('x-repo-commit');
    if (commit !== null && head.headers.get('x-error-code') === 'EntryNotFound') {
      const marker = join(repoDir, '.no_exist', commit, filename);
      await mkdir(dirname(marker), { recursive: true });
      await writeFile(marker, '');
    }
    throw new Llm2ClipError('E_NOT_FOUND', `the hub has no ${filename} in ${repoId} at ${revision}`, { path: url });
  }
  if (head.status === 401 || head.status === 403) throw new Llm2ClipError('E_IO', `the hub refused access to ${repoId} (HTTP ${head.status}); set HF_TOKEN for gated or private repos`, { path: url });
  if (head.status >= 400) throw new Llm2ClipError('E_IO', `hub answered HTTP ${head.status}`, { path: url });
  const commit = head.headers.get('x-repo-commit');
  const etag = normalizeEtag(head.headers.get('x-linked-etag') ?? head.headers.get('etag'));
  if (commit === null || !COMMIT.test(commit) || etag === undefined || !/^[\w.-]+$/.test(etag)) {
    throw new Llm2ClipError('E_FORMAT', 'hub response lacks X-Repo-Commit or ETag; is the endpoint a Hugging Face hub?', { path: url });
  }
  const sizeHeader = head.headers.get('x-linked-size') ?? head.headers.get('content-length');
  const size = sizeHeader === null ? undefined : Number(sizeHeader);
  const downloadUrl = head.status >= 300 && head.status < 400 && head.headers.get('location') !== null ? new URL(head.headers.get('location')!, location).toString() : location;
  await writeRef(repoDir, revision, commit);
  const blob = join(repoDir, 'blobs', etag);
  if (!(await exists(blob))) await downloadBlob(downloadUrl, blob, size, filename, new URL(downloadUrl).host === new URL(endpoint).host ? headers : { 'Accept-Encoding': 'identity' }, options.onProgress);
  return linkSnapshot(repoDir, commit, filename, etag);
}

async function downloadBlob(url: string, blob: string, size: number | undefined, filename: string, headers: Record<string, string>, onProgress?: ProgressCallback): Promise<void> {
  const incomplete = `${blob}.incomplete`;
  await mkdir(dirname(blob), { recursive: true });
  let have = 0;
  try {
    have = (await stat(incomplete)).size;
  } catch {
    have = 0;
  }
  const requestHeaders = { ...headers };
  if (have > 0) requestHeaders.Range = `bytes=${have}-`;
  let response: Response;
  try {
    response = await fetch(url, { headers: requestHeaders, redirect: 'follow' });
  } catch (cause) {
    throw new Llm2ClipError('E_IO', `download of ${filename} failed`, { path: url, cause });
  }
  if (response.status === 416 && size !== undefined && have === size) {
    await rename(incomplete, blob);
    return;
  }
  if (!response.ok || response.body === null) throw new Llm2ClipError('E_IO', `download of ${filename} failed with HTTP ${response.status}`, { path: url });
  // a server that ignores Range answers 200 with the whole file: start over
  const resumed = response.status === 206;
  if (!resumed) have = 0;
  let done = have;
  const total = size;
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    done += chunk.length;
    onProgress?.({ task: 'download', done, total, unit: 'byte', values: { file: filename } });
  });
  try {
    await pipeline(body, createWriteStream(incomplete, { flags: resumed ? 'a' : 'w' }));
  } catch (cause) {
    throw new Llm2ClipError('E_IO', `download of ${filename} was interrupted after ${done} bytes; run again to resume`, { path: incomplete, cause });
  }
  const final = (await stat(incomplete)).size;
  if (size !== undefined && final !== size) {
    throw new Llm2ClipError('E_IO', `download of ${filename} has ${final} bytes, expected ${size}; run again to resume`, { path: incomplete });
  }
  await rename(incomplete, blob);
}

/** Files of a model snapshot that {@link hubSnapshot} fetches. */
export interface SnapshotFiles {
  /** Always fetched (`E_NOT_FOUND` if absent). */
  required: string[];
  /** Fetched when the repo has them. */
  optional: string[];
}

/**
 * Makes the files a model needs available locally and returns the snapshot directory:
 * `config.json`, the weights (`model.safetensors`, else `model.safetensors.index.json` and every
 * shard it names) and the tokenizer files, or for an adapter repo `adapter_config.json` +
 * `adapter_model.safetensors`.
 */
export async function hubSnapshot(repoId: string, kind: 'model' | 'adapter', options: HubOptions = {}): Promise<string> {
  const fetchOne = (file: string): Promise<string> => hubDownload(repoId, file, options);
  const fetchOptional = async (file: string): Promise<string | undefined> => {
    try {
      return await fetchOne(file);
    } catch (error) {
      if (error instanceof Llm2ClipError && error.code === 'E_NOT_FOUND') return undefined;
      throw error;
    }
  };
  if (kind === 'adapter') {
    const config = await fetchOne('adapter_config.json');
    await fetchOne('adapter_model.safetensors');
    return dirname(config);
  }
  const config = await fetchOne('config.json');
  const snapshot = dirname(config);
  const single = await fetchOptional('model.safetensors');
  if (single === undefined) {
    const index = await fetchOptional('model.safetensors.index.json');
    if (index === undefined) throw new Llm2ClipError('E_NOT_FOUND', `${repoId} has neither model.safetensors nor model.safetensors.index.json`, { path: snapshot });
    let weightMap: Record<string, string>;
    try {
      weightMap = (JSON.parse(await readFile(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map;
    } catch (cause) {
      throw new Llm2ClipError('E_FORMAT', 'cannot parse the safetensors index', { path: index, cause });
    }
    for (const shard of new Set(Object.values(weightMap ?? {}))) await fetchOne(shard);
  }
  for (const file of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) await fetchOptional(file);
  return snapshot;
}

/**
 * A local directory or file as it is, or a hub model id resolved through {@link hubSnapshot}.
 * Anything else is `E_NOT_FOUND` naming the path.
 */
export async function resolvePretrained(pathOrId: string, kind: 'model' | 'adapter', options: HubOptions = {}): Promise<string> {
  if (await exists(pathOrId)) return pathOrId;
  if (!isHubRepoId(pathOrId) || pathOrId.startsWith('.')) {
    throw new Llm2ClipError('E_NOT_FOUND', `no such ${kind} directory or file, and not a hub id`, { path: pathOrId });
  }
  try {
    return await hubSnapshot(pathOrId, kind, options);
  } catch (error) {
    if (!(error instanceof Llm2ClipError)) throw error;
    const reason = error.message.replace(/^\[E_[A-Z_]+\] /, '');
    throw new Llm2ClipError(error.code, `no local ${kind} at ${pathOrId}, and as a hub id: ${reason}`, { path: error.path ?? pathOrId, cause: error });
  }
}

import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readlink, rename, stat, symlink, rm, writeFile, lstat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Llm2ClipError, type ProgressCallback } from '@llm2clip/core';
import { BlobHasher, digestFile, digestFromEtag, type ExpectedDigest } from './download-verify.js';
import { readSafetensorsIndex } from './model-files.js';

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
 *
 * Every download is verified before it is renamed from `.incomplete` to its blob name: its length
 * against `X-Linked-Size` / `Content-Length`, its content against the etag (sha256 for LFS files,
 * the git blob sha1 for regular files). A mismatch is `E_MISMATCH` naming the URL and both digests;
 * the bad bytes are deleted and never linked into a snapshot.
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
  /**
   * Re-hash files already in the cache against their blob names (sha256 / git blob sha1) before
   * using them, and download again any that do not match (offline: `E_MISMATCH`). Default false:
   * a cached blob is trusted when its size matches the hub's (online) or it exists (offline).
   */
  verifyCache?: boolean;
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
 * `.incomplete` blob is resumed with a `Range` request. Each download is checked before it is
 * used: a body that ends early is `E_IO` (the partial file is kept and resumed by the next call); a
 * body longer than announced, or whose sha256 / git blob sha1 differs from the etag, is `E_MISMATCH`
 * naming the URL and both digests, and is deleted. A cached blob whose size differs from the hub's
 * is downloaded again (with `verifyCache`, also one whose digest differs). Offline (or when the
 * hub cannot be reached) the cache alone answers; a file that is not there is `E_NOT_FOUND` naming the path looked for.
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
  if (cached.path !== undefined && (offline || COMMIT.test(revision))) {
    if (!options.verifyCache || (await snapshotFileIntact(cached.path))) return cached.path;
    if (offline) throw new Llm2ClipError('E_MISMATCH', `cached ${repoId}/${filename} does not match the digest its blob is named by; network access is off (HF_HUB_OFFLINE), so it cannot be downloaded again`, { path: cached.path });
  }
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
    if (cached.path !== undefined && (!options.verifyCache || (await snapshotFileIntact(cached.path)))) return cached.path;
    const why = cached.path === undefined ? 'is not cached' : 'is cached but does not match its digest (verifyCache)';
    throw new Llm2ClipError('E_IO', `cannot reach the hub at ${endpoint} and ${repoId}/${filename} ${why}`, { path: cached.path ?? cached.looked, cause });
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
  // a redirect's own Content-Length is the length of its body, not of the file
  const redirected = head.status >= 300 && head.status < 400;
  const sizeHeader = head.headers.get('x-linked-size') ?? (redirected ? null : head.headers.get('content-length'));
  const size = sizeHeader !== null && /^\d{1,16}$/.test(sizeHeader.trim()) ? Number(sizeHeader) : undefined;
  const downloadUrl = head.status >= 300 && head.status < 400 && head.headers.get('location') !== null ? new URL(head.headers.get('location')!, location).toString() : location;
  await writeRef(repoDir, revision, commit);
  const blob = join(repoDir, 'blobs', etag);
  const expected = digestFromEtag(etag);
  // a blob already in the cache is trusted only when its size agrees (and its digest, on request)
  const present = await fileSize(blob);
  let trusted = present !== undefined && (size === undefined || present === size);
  if (trusted && options.verifyCache && expected !== undefined) trusted = (await digestFile(blob, expected.algorithm, present!)) === expected.hex;
  if (!trusted) {
    const blobHeaders = new URL(downloadUrl).host === new URL(endpoint).host ? headers : { 'Accept-Encoding': 'identity' };
    await downloadBlob({ url: downloadUrl, blob, size, expected, filename, headers: blobHeaders, onProgress: options.onProgress });
  }
  return linkSnapshot(repoDir, commit, filename, etag);
}

/** What {@link downloadBlob} fetches and how it checks the result. */
interface BlobDownload {
  url: string;
  blob: string;
  /** Byte length from `X-Linked-Size` / `Content-Length`, when the hub gave one. */
  size: number | undefined;
  /** Digest from the etag, when it has a known form. */
  expected: ExpectedDigest | undefined;
  filename: string;
  headers: Record<string, string>;
  onProgress?: ProgressCallback;
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

/** Thrown inside {@link fetchIntoPartial} when the partial file cannot be resumed and must be fetched again whole. */
class RestartDownload extends Error {}

/**
 * Downloads `blob` through `<blob>.incomplete` and renames it into place only after its size and
 * digest are checked; a corrupt download is deleted and never linked. An interrupted download
 * keeps its partial file for the next call, which resumes it with `Range` (the partial bytes are
 * hashed first, so the whole file is verified); a partial file that cannot be resumed (longer than
 * the file, `416`, a `200` answer to the `Range` request or a `Content-Range` that starts elsewhere)
 * is fetched again from the start.
 */
async function downloadBlob(d: BlobDownload): Promise<void> {
  const incomplete = `${d.blob}.incomplete`;
  await mkdir(dirname(d.blob), { recursive: true });
  let digest: string | undefined;
  try {
    digest = await fetchIntoPartial(d, incomplete, true);
  } catch (error) {
    if (!(error instanceof RestartDownload)) throw error;
    await rm(incomplete, { force: true });
    digest = await fetchIntoPartial(d, incomplete, false);
  }
  const length = (await stat(incomplete)).size;
  if (d.size !== undefined && length !== d.size) {
    // cannot happen after a complete fetch, but never rename a wrong-sized file into place
    await rm(incomplete, { force: true });
    throw new Llm2ClipError('E_MISMATCH', `download of ${d.filename} from ${d.url} has ${length} bytes, the hub announced ${d.size}`, { path: d.url });
  }
  if (d.expected !== undefined) {
    const actual = digest ?? (await digestFile(incomplete, d.expected.algorithm, length));
    if (actual !== d.expected.hex) {
      await rm(incomplete, { force: true });
      throw new Llm2ClipError(
        'E_MISMATCH',
        `download of ${d.filename} from ${d.url} is corrupt: its ${d.expected.algorithm} is ${actual ?? '(length differs)'}, the hub's etag says ${d.expected.hex}; the bad file was deleted, run again to download it anew`,
        { path: d.url },
      );
    }
  }
  await rename(incomplete, d.blob);
}

/**
 * Brings `incomplete` to the full file (resuming it when `resume` and it has bytes) and returns the
 * digest of the whole content when it could be computed while streaming.
 */
async function fetchIntoPartial(d: BlobDownload, incomplete: string, resume: boolean): Promise<string | undefined> {
  let have = resume ? ((await fileSize(incomplete)) ?? 0) : 0;
  if (d.size !== undefined && have > d.size) throw new RestartDownload();
  if (d.size !== undefined && have === d.size) {
    // every byte is already there (an earlier run stopped before its rename): only verify
    if (have === 0) await writeFile(incomplete, '');
    return undefined;
  }
  const requestHeaders = { ...d.headers };
  if (have > 0) requestHeaders.Range = `bytes=${have}-`;
  let response: Response;
  try {
    response = await fetch(d.url, { headers: requestHeaders, redirect: 'follow' });
  } catch (cause) {
    throw new Llm2ClipError('E_IO', `download of ${d.filename} from ${d.url} failed: ${(cause as Error).message}`, { path: d.url, cause });
  }
  const cancel = (): Promise<void> => response.body?.cancel().catch(() => undefined) ?? Promise.resolve();
  if (response.status === 416 && have > 0) {
    await cancel();
    throw new RestartDownload();
  }
  if (!response.ok || response.body === null) {
    await cancel();
    throw new Llm2ClipError('E_IO', `download of ${d.filename} failed with HTTP ${response.status}`, { path: d.url });
  }
  if (response.status === 206) {
    const range = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
    if (range === null || Number(range[1]) !== have) {
      await cancel();
      if (have > 0) throw new RestartDownload();
      throw new Llm2ClipError('E_IO', `download of ${d.filename}: unexpected partial answer (Content-Range ${response.headers.get('content-range')})`, { path: d.url });
    }
  } else {
    // a server that ignores Range answers 200 with the whole file: start over
    have = 0;
  }
  const resumed = have > 0;
  const hasher = d.expected !== undefined && (d.expected.algorithm === 'sha256' || d.size !== undefined) ? new BlobHasher(d.expected.algorithm, d.size) : undefined;
  if (hasher !== undefined && resumed) await hasher.updateFromFile(incomplete);
  let done = have;
  const { filename, size, url, onProgress } = d;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      done += chunk.length;
      if (size !== undefined && done > size) {
        callback(new Llm2ClipError('E_MISMATCH', `download of ${filename} from ${url} sent more than the ${size} bytes the hub announced; refused`, { path: url }));
        return;
      }
      hasher?.update(chunk);
      onProgress?.({ task: 'download', done, total: size, unit: 'byte', values: { file: filename } });
      callback(null, chunk);
    },
  });
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  try {
    await pipeline(body, meter, createWriteStream(incomplete, { flags: resumed ? 'a' : 'w' }));
  } catch (cause) {
    if (cause instanceof Llm2ClipError) {
      await rm(incomplete, { force: true });
      throw cause;
    }
    throw new Llm2ClipError('E_IO', `download of ${filename} from ${url} was interrupted after ${done} bytes; the partial file is kept, run again to resume`, { path: incomplete, cause });
  }
  if (size !== undefined && done < size) {
    throw new Llm2ClipError('E_IO', `download of ${filename} from ${url} ended after ${done} of ${size} bytes; the partial file is kept, run again to resume`, { path: incomplete });
  }
  return hasher?.digest();
}

/**
 * Whether a cached snapshot file still matches the blob name it links to (the content digest, see
 * {@link digestFromEtag}). A file that is not a link to a digest-named blob cannot be checked and
 * counts as intact.
 */
async function snapshotFileIntact(path: string): Promise<boolean> {
  let target: string;
  try {
    target = await readlink(path);
  } catch {
    return true;
  }
  const expected = digestFromEtag(basename(target));
  const size = await fileSize(path);
  if (expected === undefined || size === undefined) return true;
  return (await digestFile(path, expected.algorithm, size)) === expected.hex;
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
    // validated (schema, size cap, plain .safetensors shard names) before any shard is fetched
    for (const shard of (await readSafetensorsIndex(index)).shards) await fetchOne(shard);
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

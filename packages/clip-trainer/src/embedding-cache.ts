import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  EMBEDDING_CACHE_FORMAT,
  EMBEDDING_CACHE_VERSION,
  Llm2ClipError,
  embeddingMatrix,
  writeJsonAtomic,
  type EmbeddingManifest,
  type EmbeddingShardInfo,
  type EmbeddingStore,
  type EmbeddingStoreWriter,
  type ModelDescription,
  type SampleEmbeddings,
} from '@llm2clip/core';
import { readSafetensors, writeSafetensors } from '@llm2clip/tensor';

/** Name of the tensor holding a shard's caption embeddings (`F32 [rows, dim]`). */
export const EMBEDDINGS_TENSOR = 'embeddings';

/** Options of {@link EmbeddingCacheWriter.create}. */
export interface EmbeddingCacheWriterOptions {
  /** The frozen model that produces the embeddings (recorded in the manifest). */
  embedder: ModelDescription;
  /** How token states were pooled, e.g. `mean`. */
  pooling: string;
  /** Embedding dimension. */
  dim: number;
  /** Samples per shard when shards are not named after image shards. Default 1000. */
  samplesPerShard?: number;
}

interface PendingShard {
  name: string | undefined;
  keys: string[];
  offsets: number[];
  kinds: Array<readonly string[] | null>;
  rows: Float32Array[];
}

/**
 * Writes an embedding cache directory: safetensors shards (`embeddings` F32 `[rows, dim]`, with
 * the sample keys, row offsets and caption kinds as JSON in the metadata), each written
 * atomically, then `manifest.json` last (atomically), so a directory with a manifest is always
 * complete. Shards follow the image shards when {@link put} is given their names, otherwise they
 * hold `samplesPerShard` samples each (`embeddings-000000.safetensors`, …).
 */
export class EmbeddingCacheWriter implements EmbeddingStoreWriter {
  private readonly dir: string;
  private readonly options: Required<EmbeddingCacheWriterOptions>;
  private readonly shards: EmbeddingShardInfo[] = [];
  private readonly seen = new Set<string>();
  private readonly usedFiles = new Set<string>();
  private pending: PendingShard | undefined;
  private finished = false;

  private constructor(dir: string, options: EmbeddingCacheWriterOptions) {
    this.dir = dir;
    this.options = { ...options, samplesPerShard: options.samplesPerShard ?? 1000 };
    if (!Number.isInteger(options.dim) || options.dim <= 0) throw new Llm2ClipError('E_CONFIG', `dim must be a positive integer, got ${options.dim}`, { field: 'dim' });
    if (!Number.isInteger(this.options.samplesPerShard) || this.options.samplesPerShard <= 0) {
      throw new Llm2ClipError('E_CONFIG', `samplesPerShard must be a positive integer, got ${this.options.samplesPerShard}`, { field: 'samplesPerShard' });
    }
  }

  /**
   * Starts a cache in `dir`. An existing `manifest.json` is removed first, so an interrupted
   * rewrite is never mistaken for a complete cache.
   */
  static async create(dir: string, options: EmbeddingCacheWriterOptions): Promise<EmbeddingCacheWriter> {
    await rm(join(dir, 'manifest.json'), { force: true });
    return new EmbeddingCacheWriter(dir, options);
  }

  /**
   * Adds one sample's caption embeddings. `shardName` (e.g. the image shard `train-000003`) starts
   * a new cache shard of that name whenever it changes.
   */
  async put(entry: SampleEmbeddings, shardName?: string): Promise<void> {
    if (this.finished) throw new Llm2ClipError('E_STATE', 'put() after finish()', { path: this.dir, key: entry.key });
    if (entry.embeddings.dim !== this.options.dim) {
      throw new Llm2ClipError('E_SHAPE', `embedding dim ${entry.embeddings.dim} differs from the cache dim ${this.options.dim}`, { path: this.dir, key: entry.key });
    }
    if (this.seen.has(entry.key)) throw new Llm2ClipError('E_DATA', 'duplicate sample key', { path: this.dir, key: entry.key });
    if (entry.captionKinds !== undefined && entry.captionKinds.length !== entry.embeddings.rows) {
      throw new Llm2ClipError('E_SHAPE', `${entry.captionKinds.length} caption kinds for ${entry.embeddings.rows} rows`, { path: this.dir, key: entry.key });
    }
    const startsNew =
      this.pending === undefined ||
      (shardName !== undefined ? shardName !== this.pending.name : this.pending.keys.length >= this.options.samplesPerShard);
    if (startsNew) {
      await this.flush();
      this.pending = { name: shardName, keys: [], offsets: [0], kinds: [], rows: [] };
    }
    const shard = this.pending as PendingShard;
    this.seen.add(entry.key);
    shard.keys.push(entry.key);
    shard.rows.push(Float32Array.from(entry.embeddings.data));
    shard.offsets.push(shard.offsets[shard.offsets.length - 1] + entry.embeddings.rows);
    shard.kinds.push(entry.captionKinds !== undefined ? [...entry.captionKinds] : null);
  }

  private fileName(name: string | undefined): string {
    const base = name !== undefined ? name.replace(/\.(tar|tgz|tar\.gz)$/, '').replace(/[^A-Za-z0-9._-]/g, '_') : `embeddings-${String(this.shards.length).padStart(6, '0')}`;
    let file = `${base}.safetensors`;
    for (let n = 1; this.usedFiles.has(file); n++) file = `${base}-${n}.safetensors`;
    this.usedFiles.add(file);
    return file;
  }

  private async flush(): Promise<void> {
    const shard = this.pending;
    this.pending = undefined;
    if (shard === undefined || shard.keys.length === 0) return;
    const rows = shard.offsets[shard.offsets.length - 1];
    const data = new Float32Array(rows * this.options.dim);
    let offset = 0;
    for (const part of shard.rows) {
      data.set(part, offset);
      offset += part.length;
    }
    const file = this.fileName(shard.name);
    await writeSafetensors(join(this.dir, file), { [EMBEDDINGS_TENSOR]: { shape: [rows, this.options.dim], dtype: 'float32', data } }, {
      format: EMBEDDING_CACHE_FORMAT,
      keys: JSON.stringify(shard.keys),
      offsets: JSON.stringify(shard.offsets),
      caption_kinds: JSON.stringify(shard.kinds),
    });
    this.shards.push({ file, samples: shard.keys.length, rows });
  }

  /** Writes the last shard, then `manifest.json`; returns the manifest. */
  async finish(): Promise<EmbeddingManifest> {
    if (this.finished) throw new Llm2ClipError('E_STATE', 'finish() called twice', { path: this.dir });
    await this.flush();
    this.finished = true;
    const manifest: EmbeddingManifest = {
      format: EMBEDDING_CACHE_FORMAT,
      version: EMBEDDING_CACHE_VERSION,
      embedder: this.options.embedder,
      pooling: this.options.pooling,
      dim: this.options.dim,
      dtype: 'float32',
      samples: this.shards.reduce((sum, s) => sum + s.samples, 0),
      rows: this.shards.reduce((sum, s) => sum + s.rows, 0),
      shards: this.shards,
      createdAt: new Date().toISOString(),
    };
    await writeJsonAtomic(join(this.dir, 'manifest.json'), manifest);
    return manifest;
  }
}

/** Options of {@link EmbeddingCache.open}: what the caller requires of the cache. */
export interface EmbeddingCacheOpenOptions {
  /** Refuse (`E_MISMATCH`) a cache of another dimension. */
  dim?: number;
  /** Refuse (`E_MISMATCH`) a cache written by a model with another fingerprint. */
  embedderFingerprint?: string;
}

interface CacheEntry {
  data: Float32Array;
  rows: number;
  kinds: readonly string[] | undefined;
}

function parseJsonMetadata<T>(value: string | undefined, field: string, path: string): T {
  if (value === undefined) throw new Llm2ClipError('E_FORMAT', 'shard metadata lacks a field', { path, field });
  try {
    return JSON.parse(value) as T;
  } catch (cause) {
    throw new Llm2ClipError('E_FORMAT', 'shard metadata field is not JSON', { path, field, cause });
  }
}

/**
 * Reads an embedding cache written by {@link EmbeddingCacheWriter} (all shards are loaded into
 * memory: `rows × dim × 4` bytes). Lookups are by sample key.
 *
 * @example
 * ```ts
 * const cache = await EmbeddingCache.open('runs/cache', { dim: 2048 });
 * const { embeddings, captionKinds } = cache.get('000042')!;
 * ```
 */
export class EmbeddingCache implements EmbeddingStore {
  /** The manifest the cache was written with. */
  readonly manifest: EmbeddingManifest;
  /** The cache directory. */
  readonly dir: string;
  private readonly entries: Map<string, CacheEntry>;
  private readonly order: string[];

  private constructor(dir: string, manifest: EmbeddingManifest, entries: Map<string, CacheEntry>, order: string[]) {
    this.dir = dir;
    this.manifest = manifest;
    this.entries = entries;
    this.order = order;
  }

  /** Embedding dimension. */
  get dim(): number {
    return this.manifest.dim;
  }

  /** Opens and validates the cache in `dir`. */
  static async open(dir: string, options: EmbeddingCacheOpenOptions = {}): Promise<EmbeddingCache> {
    const manifestPath = join(dir, 'manifest.json');
    let manifest: EmbeddingManifest;
    try {
      manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as EmbeddingManifest;
    } catch (cause) {
      throw new Llm2ClipError('E_NOT_FOUND', 'cannot read the embedding cache manifest', { path: manifestPath, cause });
    }
    if (manifest.format !== EMBEDDING_CACHE_FORMAT) throw new Llm2ClipError('E_FORMAT', `expected format "${EMBEDDING_CACHE_FORMAT}", found "${manifest.format}"`, { path: manifestPath, field: 'format' });
    if (manifest.version !== EMBEDDING_CACHE_VERSION) throw new Llm2ClipError('E_FORMAT', `unsupported cache version ${manifest.version} (this reader: ${EMBEDDING_CACHE_VERSION})`, { path: manifestPath, field: 'version' });
    if (!Number.isInteger(manifest.dim) || manifest.dim <= 0) throw new Llm2ClipError('E_FORMAT', `invalid dim ${manifest.dim}`, { path: manifestPath, field: 'dim' });
    if (manifest.dtype !== 'float32') throw new Llm2ClipError('E_FORMAT', `unsupported dtype ${manifest.dtype}`, { path: manifestPath, field: 'dtype' });
    if (!Array.isArray(manifest.shards)) throw new Llm2ClipError('E_FORMAT', 'shards must be a list', { path: manifestPath, field: 'shards' });
    if (options.dim !== undefined && options.dim !== manifest.dim) {
      throw new Llm2ClipError('E_MISMATCH', `cache dim is ${manifest.dim}, expected ${options.dim}`, { path: manifestPath, field: 'dim' });
    }
    if (options.embedderFingerprint !== undefined && options.embedderFingerprint !== manifest.embedder?.fingerprint) {
      throw new Llm2ClipError('E_MISMATCH', `cache was written by embedder ${manifest.embedder?.fingerprint}, expected ${options.embedderFingerprint}`, { path: manifestPath, field: 'embedder.fingerprint' });
    }
    const entries = new Map<string, CacheEntry>();
    const order: string[] = [];
    for (const [index, shard] of manifest.shards.entries()) {
      const path = join(dir, shard.file);
      const file = await readSafetensors(path);
      const tensor = file.tensors.get(EMBEDDINGS_TENSOR);
      if (tensor === undefined) throw new Llm2ClipError('E_FORMAT', `shard has no "${EMBEDDINGS_TENSOR}" tensor`, { path, field: EMBEDDINGS_TENSOR });
      if (tensor.shape.length !== 2 || tensor.shape[1] !== manifest.dim || tensor.shape[0] !== shard.rows) {
        throw new Llm2ClipError('E_SHAPE', `expected [${shard.rows}, ${manifest.dim}], file has [${tensor.shape}]`, { path, field: EMBEDDINGS_TENSOR });
      }
      const keys = parseJsonMetadata<string[]>(file.metadata.keys, 'keys', path);
      const offsets = parseJsonMetadata<number[]>(file.metadata.offsets, 'offsets', path);
      const kinds = parseJsonMetadata<Array<string[] | null>>(file.metadata.caption_kinds ?? 'null', 'caption_kinds', path);
      if (keys.length !== shard.samples || offsets.length !== keys.length + 1 || offsets[keys.length] !== shard.rows) {
        throw new Llm2ClipError('E_FORMAT', `shard ${index}: ${keys.length} keys / ${offsets.length} offsets disagree with the manifest (${shard.samples} samples, ${shard.rows} rows)`, { path, field: 'keys' });
      }
      const data = tensor.data as Float32Array;
      keys.forEach((key, i) => {
        if (entries.has(key)) throw new Llm2ClipError('E_FORMAT', 'key appears twice in the cache', { path, key });
        const start = offsets[i];
        const end = offsets[i + 1];
        entries.set(key, { data: data.subarray(start * manifest.dim, end * manifest.dim), rows: end - start, kinds: kinds?.[i] ?? undefined });
        order.push(key);
      });
    }
    return new EmbeddingCache(dir, manifest, entries, order);
  }

  /** All keys, in shard order. */
  keys(): readonly string[] {
    return this.order;
  }

  /** True when `key` is cached. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The caption embeddings of `key` (a view, not a copy), or `undefined`. */
  get(key: string): SampleEmbeddings | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    return { key, embeddings: embeddingMatrix(entry.rows, this.manifest.dim, entry.data), captionKinds: entry.kinds };
  }
}

/**
 * Checks that `store` covers `samples`: every key present with one row per caption, and (when
 * given) the expected dimension. Throws `E_MISMATCH` naming the first offending keys.
 */
export function checkCacheCoverage(store: EmbeddingStore, samples: Iterable<{ key: string; captions: readonly string[] }>, expectedDim?: number): void {
  const where = store instanceof EmbeddingCache ? join(store.dir, 'manifest.json') : undefined;
  if (expectedDim !== undefined && store.dim !== expectedDim) {
    throw new Llm2ClipError('E_MISMATCH', `embedding cache dim ${store.dim} does not match the expected ${expectedDim}`, { path: where, field: 'dim' });
  }
  const missing: string[] = [];
  let total = 0;
  for (const sample of samples) {
    const entry = store.get(sample.key);
    if (entry === undefined) {
      total += 1;
      if (missing.length < 5) missing.push(sample.key);
    } else if (entry.embeddings.rows !== sample.captions.length) {
      throw new Llm2ClipError('E_MISMATCH', `cache has ${entry.embeddings.rows} caption rows, the sample has ${sample.captions.length} captions`, { path: where, key: sample.key });
    }
  }
  if (total > 0) {
    throw new Llm2ClipError('E_MISMATCH', `${total} sample key(s) are not in the embedding cache: ${missing.join(', ')}${total > missing.length ? ', …' : ''}`, { path: where, key: missing[0] });
  }
}

import { readFile, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  EMBEDDING_CACHE_FORMAT,
  EMBEDDING_CACHE_VERSION,
  Llm2ClipError,
  fingerprint,
  silentProgress,
  writeJsonAtomic,
  type EmbeddingManifest,
  type ModelDescription,
  type ProgressCallback,
  type Sample,
  type SampleSource,
  type TextEmbedder,
} from '@llm2clip/core';
import { readSafetensors, writeSafetensors } from '@llm2clip/tensor';
import { EMBEDDINGS_TENSOR } from './embedding-cache.js';
import { assignShards, type ShardAssignment, type ShardSpec } from './shard-spec.js';

/** `format` of the per-shard completion record written beside each sidecar shard. */
export const EMBEDDING_SHARD_FORMAT = 'llm2clip.embeddings-shard';
/** Current version of the per-shard record. */
export const EMBEDDING_SHARD_VERSION = 1;
/** Suffix of the per-shard completion record (`<shard>.done.json`). */
export const SHARD_RECORD_SUFFIX = '.done.json';

/** One unit of embedding work: an input shard (a webdataset tar, or a part of a source). */
export interface EmbedInputShard {
  /** Stable name (the tar path); the sidecar shard is named after its basename. */
  readonly name: string;
  /** The shard's samples, in file order. */
  samples(): AsyncIterable<Sample>;
}

/** The completion record of one sidecar shard (`<shard>.done.json`), written after the shard. */
export interface EmbeddingShardRecord {
  format: typeof EMBEDDING_SHARD_FORMAT;
  version: number;
  /** The sidecar safetensors file, relative to the cache directory. */
  file: string;
  /** The input shard it mirrors: name, position in the input list, list length and list fingerprint. */
  input: { name: string; index: number; count: number; listFingerprint: string };
  embedder: ModelDescription;
  pooling: string;
  dim: number;
  dtype: 'float32';
  /** Samples written. */
  samples: number;
  /** Caption rows written. */
  rows: number;
  /** Samples skipped (no captions). */
  skipped: number;
  createdAt: string;
}

/** Options of {@link embedShards}. */
export interface EmbedShardsOptions {
  /** Every input shard of the dataset, in the same order in every part of a split job. */
  inputs: readonly EmbedInputShard[];
  /** The frozen teacher. */
  embedder: TextEmbedder;
  /** Cache directory (shared by all parts). */
  outDir: string;
  /** This process's part of a split job. [all shards] */
  shard?: ShardSpec;
  /** How input shards are dealt to parts. ['round-robin'] */
  assignment?: ShardAssignment;
  /** Captions per `embed` call. [32] */
  batchSize?: number;
  /** Pooling recorded in the records. [the embedder's `details.pooling`, else `mean`] */
  pooling?: string;
  /** Redo shards that already have a completion record (otherwise they are kept). [false] */
  overwrite?: boolean;
  /** Progress in captions (task `embed`). */
  onProgress?: ProgressCallback;
  /** Called after each shard's record is written (a throw here stops the run, like a kill). */
  onShardDone?: (record: EmbeddingShardRecord) => void | Promise<void>;
  /** Stops after the current shard when aborted. */
  signal?: AbortSignal;
}

/** What {@link embedShards} did. */
export interface EmbedShardsResult {
  /** Input shards this call embedded. */
  embedded: string[];
  /** Input shards skipped because a matching completion record existed (resume). */
  reused: string[];
  /** Samples skipped for having no captions. */
  skippedSamples: number;
  /** Captions embedded by this call. */
  captions: number;
}

/** Input shards over tar paths (or any per-path source), e.g. `(p) => new WebDatasetSource(p)`. */
export function inputShardsFromPaths(paths: readonly string[], open: (path: string) => SampleSource): EmbedInputShard[] {
  return paths.map((path) => ({ name: path, samples: () => open(path).samples() }));
}

/** `parts` input shards over one source, via `source.shard(i, parts)` (for sources without files). */
export function inputShardsFromSource(source: SampleSource, parts: number): EmbedInputShard[] {
  if (!Number.isInteger(parts) || parts < 1) throw new Llm2ClipError('E_CONFIG', `parts must be a positive integer, got ${parts}`, { field: 'parts' });
  return Array.from({ length: parts }, (_, i) => ({ name: `${source.name}#part-${String(i).padStart(5, '0')}-of-${String(parts).padStart(5, '0')}`, samples: () => source.shard(i, parts).samples() }));
}

/**
 * The sidecar file base of every input: the basename without `.tar`, sanitised; if two inputs
 * share a basename, every base gets its list position as a prefix.
 */
export function sidecarBaseNames(inputs: readonly { name: string }[]): string[] {
  const bases = inputs.map((input) => basename(input.name).replace(/\.(tar|tgz|tar\.gz)$/, '').replace(/[^A-Za-z0-9._-]/g, '_'));
  if (new Set(bases).size === bases.length) return bases;
  return bases.map((base, i) => `${String(i).padStart(6, '0')}-${base}`);
}

async function readRecord(path: string): Promise<EmbeddingShardRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  let record: EmbeddingShardRecord;
  try {
    record = JSON.parse(text) as EmbeddingShardRecord;
  } catch (cause) {
    throw new Llm2ClipError('E_FORMAT', 'shard record is not JSON', { path, cause });
  }
  if (record.format !== EMBEDDING_SHARD_FORMAT || record.version !== EMBEDDING_SHARD_VERSION) {
    throw new Llm2ClipError('E_FORMAT', `expected ${EMBEDDING_SHARD_FORMAT} v${EMBEDDING_SHARD_VERSION}, found ${String(record.format)} v${String(record.version)}`, { path, field: 'format' });
  }
  return record;
}

/**
 * Stage 2's frozen-teacher pass, split for a cluster: embeds every caption of the input shards
 * assigned to this part (`shard`, see {@link assignShards}) into one sidecar safetensors shard per
 * input shard (`<name>.safetensors`, the {@link EmbeddingCacheWriter} shard layout), each written
 * atomically and followed by its completion record `<name>.done.json`. Shards that already have a
 * record written by the same embedder (fingerprint, dim, pooling) are not redone, so a killed
 * part resumes where it stopped; a record from another embedder is an `E_MISMATCH` (or redone with
 * `overwrite`). Run {@link mergeEmbeddingShards} after all parts to check and write `manifest.json`.
 */
export async function embedShards(options: EmbedShardsOptions): Promise<EmbedShardsResult> {
  const { inputs, embedder, outDir, onProgress = silentProgress } = options;
  const batchSize = Math.max(1, options.batchSize ?? 32);
  const description = embedder.describe();
  const pooling = options.pooling ?? (typeof description.details?.pooling === 'string' ? description.details.pooling : 'mean');
  const dim = embedder.dim;
  const bases = sidecarBaseNames(inputs);
  const listFingerprint = fingerprint(inputs.map((input) => input.name));
  const mine = assignShards(inputs.length, options.shard ?? { index: 0, count: 1 }, options.assignment);
  const result: EmbedShardsResult = { embedded: [], reused: [], skippedSamples: 0, captions: 0 };
  const started = performance.now();

  for (const [position, inputIndex] of mine.entries()) {
    if (options.signal?.aborted === true) break;
    const input = inputs[inputIndex];
    const file = `${bases[inputIndex]}.safetensors`;
    const recordPath = join(outDir, `${bases[inputIndex]}${SHARD_RECORD_SUFFIX}`);
    const existing = await readRecord(recordPath);
    if (existing !== undefined && options.overwrite !== true) {
      if (existing.embedder.fingerprint !== description.fingerprint || existing.dim !== dim || existing.pooling !== pooling) {
        throw new Llm2ClipError('E_MISMATCH', `shard was embedded by ${existing.embedder.fingerprint} (dim ${existing.dim}, ${existing.pooling}); this run is ${description.fingerprint} (dim ${dim}, ${pooling}); use another directory or overwrite`, { path: recordPath, field: 'embedder.fingerprint' });
      }
      if (existing.input.listFingerprint !== listFingerprint || existing.input.index !== inputIndex) {
        throw new Llm2ClipError('E_MISMATCH', 'shard was written for a different input shard list', { path: recordPath, field: 'input' });
      }
      result.reused.push(input.name);
      continue;
    }
    // a new shard invalidates any merged manifest
    await rm(join(outDir, 'manifest.json'), { force: true });
    await rm(recordPath, { force: true });

    const keys: string[] = [];
    const offsets = [0];
    const kinds: Array<readonly string[] | null> = [];
    const parts: Float32Array[] = [];
    const seen = new Set<string>();
    let skipped = 0;
    let pending: Sample[] = [];
    let pendingCaptions = 0;
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      const texts = pending.flatMap((s) => [...s.captions]);
      const matrix = await embedder.embed(texts, { batchSize });
      if (matrix.rows !== texts.length || matrix.dim !== dim) {
        throw new Llm2ClipError('E_SHAPE', `embedder returned ${matrix.rows}x${matrix.dim} for ${texts.length} captions of dim ${dim}`, { path: input.name, field: 'embed' });
      }
      parts.push(Float32Array.from(matrix.data));
      for (const sample of pending) {
        keys.push(sample.key);
        offsets.push(offsets[offsets.length - 1] + sample.captions.length);
        kinds.push(sample.captionKinds !== undefined && sample.captionKinds.length === sample.captions.length ? [...sample.captionKinds] : null);
      }
      result.captions += texts.length;
      const seconds = (performance.now() - started) / 1000;
      onProgress({ task: 'embed', done: result.captions, unit: 'caption', values: { 'captions/s': Number((result.captions / Math.max(seconds, 1e-9)).toFixed(1)), shard: `${position + 1}/${mine.length}` } });
      pending = [];
      pendingCaptions = 0;
    };
    for await (const sample of input.samples()) {
      if (sample.captions.length === 0) {
        skipped += 1;
        continue;
      }
      if (seen.has(sample.key)) throw new Llm2ClipError('E_DATA', 'duplicate sample key in an input shard', { path: input.name, key: sample.key });
      seen.add(sample.key);
      pending.push(sample);
      pendingCaptions += sample.captions.length;
      if (pendingCaptions >= batchSize) await flush();
    }
    await flush();

    const rows = offsets[offsets.length - 1];
    const data = new Float32Array(rows * dim);
    let offset = 0;
    for (const part of parts) {
      data.set(part, offset);
      offset += part.length;
    }
    await writeSafetensors(join(outDir, file), { [EMBEDDINGS_TENSOR]: { shape: [rows, dim], dtype: 'float32', data } }, {
      format: EMBEDDING_CACHE_FORMAT,
      keys: JSON.stringify(keys),
      offsets: JSON.stringify(offsets),
      caption_kinds: JSON.stringify(kinds),
    });
    const record: EmbeddingShardRecord = {
      format: EMBEDDING_SHARD_FORMAT,
      version: EMBEDDING_SHARD_VERSION,
      file,
      input: { name: input.name, index: inputIndex, count: inputs.length, listFingerprint },
      embedder: description,
      pooling,
      dim,
      dtype: 'float32',
      samples: keys.length,
      rows,
      skipped,
      createdAt: new Date().toISOString(),
    };
    await writeJsonAtomic(recordPath, record);
    result.embedded.push(input.name);
    result.skippedSamples += skipped;
    await options.onShardDone?.(record);
  }
  return result;
}

/** The merged `manifest.json` of a sharded cache: the cache manifest plus the input list. */
export interface MergedEmbeddingManifest extends EmbeddingManifest {
  /** Input shards the cache mirrors: count, list fingerprint, and samples skipped overall. */
  inputs: { count: number; listFingerprint: string; skippedSamples: number };
}

/** Options of {@link mergeEmbeddingShards}. */
export interface MergeEmbeddingShardsOptions {
  /** Only check; do not write `manifest.json`. [false] */
  verifyOnly?: boolean;
  /** Require this embedder fingerprint. */
  embedderFingerprint?: string;
}

/**
 * Checks that a sharded cache is complete and consistent — one completion record for every input
 * shard `0 … count − 1`, all from the same input list, embedder fingerprint, pooling and dim, each
 * sidecar file holding the recorded samples and rows with no key in two shards — and writes
 * `manifest.json` (shards in input order), after which {@link EmbeddingCache.open} reads the cache.
 * Every problem is an `E_MISMATCH`/`E_FORMAT` naming the shard; missing shards are listed.
 */
export async function mergeEmbeddingShards(dir: string, options: MergeEmbeddingShardsOptions = {}): Promise<MergedEmbeddingManifest> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith(SHARD_RECORD_SUFFIX)).sort();
  } catch (cause) {
    throw new Llm2ClipError('E_NOT_FOUND', 'cannot read the embedding cache directory', { path: dir, cause });
  }
  if (names.length === 0) throw new Llm2ClipError('E_NOT_FOUND', `no *${SHARD_RECORD_SUFFIX} shard records: run embed first`, { path: dir });
  const records: EmbeddingShardRecord[] = [];
  for (const name of names) records.push((await readRecord(join(dir, name))) as EmbeddingShardRecord);
  const first = records[0];
  const reference = join(dir, names[0]);
  const byIndex = new Map<number, EmbeddingShardRecord>();
  records.forEach((record, i) => {
    const path = join(dir, names[i]);
    const differs = (field: string, a: unknown, b: unknown): void => {
      if (a !== b) throw new Llm2ClipError('E_MISMATCH', `${field} is ${String(a)} here but ${String(b)} in ${reference}`, { path, field });
    };
    differs('embedder.fingerprint', record.embedder.fingerprint, first.embedder.fingerprint);
    differs('dim', record.dim, first.dim);
    differs('pooling', record.pooling, first.pooling);
    differs('input.count', record.input.count, first.input.count);
    differs('input.listFingerprint', record.input.listFingerprint, first.input.listFingerprint);
    if (byIndex.has(record.input.index)) throw new Llm2ClipError('E_FORMAT', `input shard ${record.input.index} has two records`, { path, field: 'input.index' });
    byIndex.set(record.input.index, record);
  });
  if (options.embedderFingerprint !== undefined && options.embedderFingerprint !== first.embedder.fingerprint) {
    throw new Llm2ClipError('E_MISMATCH', `shards were embedded by ${first.embedder.fingerprint}, expected ${options.embedderFingerprint}`, { path: reference, field: 'embedder.fingerprint' });
  }
  const missing: number[] = [];
  for (let i = 0; i < first.input.count; i++) if (!byIndex.has(i)) missing.push(i);
  if (missing.length > 0) {
    throw new Llm2ClipError('E_MISMATCH', `${missing.length} of ${first.input.count} input shards are not embedded yet: #${missing.slice(0, 10).join(', #')}${missing.length > 10 ? ', …' : ''}`, { path: dir, field: 'shards' });
  }
  const ordered = [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, record]) => record);
  const seen = new Set<string>();
  for (const record of ordered) {
    const path = join(dir, record.file);
    const file = await readSafetensors(path);
    const tensor = file.tensors.get(EMBEDDINGS_TENSOR);
    if (tensor === undefined || tensor.shape.length !== 2 || tensor.shape[0] !== record.rows || tensor.shape[1] !== record.dim) {
      throw new Llm2ClipError('E_SHAPE', `expected ${EMBEDDINGS_TENSOR} [${record.rows}, ${record.dim}], found ${tensor === undefined ? 'none' : `[${tensor.shape}]`}`, { path, field: EMBEDDINGS_TENSOR });
    }
    let keys: string[];
    try {
      keys = JSON.parse(file.metadata.keys ?? 'null') as string[];
    } catch (cause) {
      throw new Llm2ClipError('E_FORMAT', 'shard metadata "keys" is not JSON', { path, field: 'keys', cause });
    }
    if (!Array.isArray(keys) || keys.length !== record.samples) throw new Llm2ClipError('E_MISMATCH', `the record says ${record.samples} samples, the shard has ${Array.isArray(keys) ? keys.length : 'no'} keys`, { path, field: 'keys' });
    for (const key of keys) {
      if (seen.has(key)) throw new Llm2ClipError('E_MISMATCH', 'sample key appears in two shards', { path, key });
      seen.add(key);
    }
  }
  const manifest: MergedEmbeddingManifest = {
    format: EMBEDDING_CACHE_FORMAT,
    version: EMBEDDING_CACHE_VERSION,
    embedder: first.embedder,
    pooling: first.pooling,
    dim: first.dim,
    dtype: 'float32',
    samples: ordered.reduce((sum, r) => sum + r.samples, 0),
    rows: ordered.reduce((sum, r) => sum + r.rows, 0),
    shards: ordered.map((r) => ({ file: r.file, samples: r.samples, rows: r.rows })),
    createdAt: new Date().toISOString(),
    inputs: { count: first.input.count, listFingerprint: first.input.listFingerprint, skippedSamples: ordered.reduce((sum, r) => sum + r.skipped, 0) },
  };
  if (options.verifyOnly !== true) await writeJsonAtomic(join(dir, 'manifest.json'), manifest);
  return manifest;
}

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Llm2ClipError, embeddingMatrix, fingerprint, writeFileAtomic, type EmbeddingMatrix, type ModelDescription } from '@llm2clip/core';

/** `format` in the `__metadata__` of a cached feature file. */
export const FEATURE_CACHE_FORMAT = 'llm2clip.eval-features';
/** Current feature cache version; files of another version are treated as absent and rewritten. */
export const FEATURE_CACHE_VERSION = 1;

/** What a cached matrix holds: image features, caption features or zero-shot prompt features. */
export type FeatureRole = 'images' | 'texts' | 'prompts';

/** The dataset side of a cache key. */
export interface FeatureDataset {
  readonly name: string;
  readonly fingerprint: string;
}

/**
 * Embeddings of eval sets on disk, one safetensors file per (embedder, dataset, role):
 * `<dir>/<role>-<key>.safetensors`, where the key hashes the embedder's `describe().fingerprint`,
 * the dataset fingerprint, the role and the cache version. The file holds one F32 tensor
 * `embeddings` `[rows, dim]`; its `__metadata__` carries `format`, `version`, the embedder's name
 * and fingerprint, the dataset's name and fingerprint and the role, so a file is
 * self-describing and loads in Python's `safetensors`. Writes are atomic (temp file + rename).
 *
 * A second evaluation of the same model on the same data reads the features instead of calling
 * the embedder.
 */
export class FeatureCache {
  /** Cache hits and misses since construction. */
  readonly stats = { hits: 0, misses: 0 };

  constructor(readonly dir: string) {}

  /** The file a (model, dataset, role) entry lives in. */
  pathOf(model: ModelDescription, dataset: FeatureDataset, role: FeatureRole): string {
    const key = fingerprint(FEATURE_CACHE_FORMAT, FEATURE_CACHE_VERSION, model.fingerprint, dataset.fingerprint, role);
    return join(this.dir, `${role}-${key}.safetensors`);
  }

  /**
   * The cached matrix, or `undefined` when there is none (or it is of another cache version).
   *
   * @throws Llm2ClipError `E_FORMAT` (with the path) for a damaged file, `E_MISMATCH` when its
   *   metadata names another model or dataset.
   */
  async get(model: ModelDescription, dataset: FeatureDataset, role: FeatureRole): Promise<EmbeddingMatrix | undefined> {
    const path = this.pathOf(model, dataset, role);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Llm2ClipError('E_IO', 'cannot read cached features', { path, cause });
    }
    const { metadata, matrix } = parseFeatureFile(bytes, path);
    if (metadata.format !== FEATURE_CACHE_FORMAT) throw new Llm2ClipError('E_FORMAT', `expected format '${FEATURE_CACHE_FORMAT}', got '${metadata.format}'`, { path, field: 'format' });
    if (metadata.version !== String(FEATURE_CACHE_VERSION)) return undefined;
    if (metadata.model_fingerprint !== model.fingerprint || metadata.dataset_fingerprint !== dataset.fingerprint || metadata.role !== role) {
      throw new Llm2ClipError('E_MISMATCH', 'cached features belong to another model, dataset or role', { path });
    }
    return matrix;
  }

  /** Stores `matrix` for (model, dataset, role), atomically. */
  async put(model: ModelDescription, dataset: FeatureDataset, role: FeatureRole, matrix: EmbeddingMatrix): Promise<string> {
    const path = this.pathOf(model, dataset, role);
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(
      path,
      encodeFeatureFile(matrix, {
        format: FEATURE_CACHE_FORMAT,
        version: String(FEATURE_CACHE_VERSION),
        model_name: model.name,
        model_fingerprint: model.fingerprint,
        dataset_name: dataset.name,
        dataset_fingerprint: dataset.fingerprint,
        role,
      }),
    );
    return path;
  }

  /** The cached matrix, or `compute()`'s result, stored for next time. */
  async getOrCompute(model: ModelDescription, dataset: FeatureDataset, role: FeatureRole, compute: () => Promise<EmbeddingMatrix>): Promise<EmbeddingMatrix> {
    const cached = await this.get(model, dataset, role);
    if (cached !== undefined) {
      this.stats.hits++;
      return cached;
    }
    this.stats.misses++;
    const matrix = await compute();
    await this.put(model, dataset, role, matrix);
    return matrix;
  }
}

/** A safetensors file with one F32 tensor `embeddings` and string metadata. @internal */
export function encodeFeatureFile(matrix: EmbeddingMatrix, metadata: Record<string, string>): Uint8Array {
  const byteLength = matrix.rows * matrix.dim * 4;
  const header = { __metadata__: metadata, embeddings: { dtype: 'F32', shape: [matrix.rows, matrix.dim], data_offsets: [0, byteLength] } };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // the data starts 8-byte aligned
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const data = new Float32Array(matrix.rows * matrix.dim);
  data.set(matrix.data.subarray(0, data.length));
  out.set(new Uint8Array(data.buffer), 8 + headerBytes.length);
  return out;
}

/** Parses a file written by {@link encodeFeatureFile}. @internal */
export function parseFeatureFile(bytes: Uint8Array, path: string): { metadata: Record<string, string>; matrix: EmbeddingMatrix } {
  const fail = (message: string): never => {
    throw new Llm2ClipError('E_FORMAT', message, { path });
  };
  if (bytes.length < 8) fail('file is shorter than a safetensors header');
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (8 + headerLength > bytes.length) fail(`header length ${headerLength} exceeds the file size ${bytes.length}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8')) as Record<string, unknown>;
  } catch (cause) {
    return fail(`header is not JSON: ${(cause as Error).message}`);
  }
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensor = header.embeddings as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | undefined;
  if (tensor === undefined) return fail("no tensor 'embeddings'");
  const shape = tensor.shape as number[];
  const offsets = tensor.data_offsets as number[];
  if (tensor.dtype !== 'F32' || !Array.isArray(shape) || shape.length !== 2 || !Array.isArray(offsets) || offsets.length !== 2) {
    return fail("tensor 'embeddings' must be F32 with a 2-d shape");
  }
  const [rows, dim] = shape;
  const start = 8 + headerLength + offsets[0];
  const end = 8 + headerLength + offsets[1];
  if (end - start !== rows * dim * 4 || end > bytes.length) fail(`tensor 'embeddings' [${rows}, ${dim}] does not fit its data (${end - start} bytes, file ${bytes.length})`);
  const data = new Float32Array(rows * dim);
  new Uint8Array(data.buffer).set(bytes.subarray(start, end));
  return { metadata, matrix: embeddingMatrix(rows, dim, data) };
}

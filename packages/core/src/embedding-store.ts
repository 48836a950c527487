import type { ModelDescription } from './embedder.js';
import type { EmbeddingMatrix } from './matrix.js';

/** `format` field of an embedding cache manifest. */
export const EMBEDDING_CACHE_FORMAT = 'llm2clip.embeddings';
/** Current `version` of the embedding cache format. */
export const EMBEDDING_CACHE_VERSION = 1;

/** One shard file of an embedding cache. */
export interface EmbeddingShardInfo {
  /** File name relative to the cache directory. */
  file: string;
  /** Number of samples (keys) in the shard. */
  samples: number;
  /** Number of caption rows in the shard. */
  rows: number;
}

/** `manifest.json` of an embedding cache directory. */
export interface EmbeddingManifest {
  format: typeof EMBEDDING_CACHE_FORMAT;
  version: number;
  /** The frozen model that produced the embeddings. */
  embedder: ModelDescription;
  /** How token states were pooled (e.g. `mean`). */
  pooling: string;
  /** Embedding dimension. */
  dim: number;
  /** Stored element type. */
  dtype: 'float32' | 'float16';
  /** Number of samples over all shards. */
  samples: number;
  /** Number of caption rows over all shards. */
  rows: number;
  /** Shard files in order. */
  shards: EmbeddingShardInfo[];
  /** ISO time of writing. */
  createdAt: string;
}

/** The cached caption embeddings of one sample. */
export interface SampleEmbeddings {
  /** Sample key. */
  key: string;
  /** One row per caption, in the sample's caption order. */
  embeddings: EmbeddingMatrix;
  /** Caption kinds aligned with the rows, when the source knew them. */
  captionKinds?: readonly string[];
}

/** Read access to cached caption embeddings, by sample key. */
export interface EmbeddingStore {
  /** The manifest the cache was written with. */
  readonly manifest: EmbeddingManifest;
  /** Embedding dimension. */
  readonly dim: number;
  /** All keys, in shard order. */
  keys(): readonly string[];
  /** True when `key` is in the cache. */
  has(key: string): boolean;
  /** The embeddings of `key`, or `undefined` when absent. */
  get(key: string): SampleEmbeddings | undefined;
}

/** Write access to an embedding cache; `finish()` writes the manifest last, atomically. */
export interface EmbeddingStoreWriter {
  /** Adds the embeddings of one sample. */
  put(entry: SampleEmbeddings): Promise<void>;
  /** Flushes the last shard and writes `manifest.json`. */
  finish(): Promise<EmbeddingManifest>;
}

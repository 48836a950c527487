import type { EmbeddingMatrix } from './matrix.js';
import type { ImageRef } from './sample.js';

/** What a model is: enough to tell two models apart in a report or a cache manifest. */
export interface ModelDescription {
  /** Human-readable name, e.g. `llama-tiny (LoRA merged)`. */
  name: string;
  /** Stable hash of the weights and the config that affect outputs. */
  fingerprint: string;
  /** Free-form extra facts (pooling, max length, architecture). */
  details?: Record<string, unknown>;
}

/** Options shared by embedders. */
export interface EmbedOptions {
  /** How many inputs go through the model at once. */
  batchSize?: number;
  /** Called after each batch with the number of inputs done so far. */
  onProgress?: (done: number, total: number) => void;
}

/** Turns captions into vectors. Rows of the result follow the order of the input. */
export interface TextEmbedder {
  /** Embedding dimension. */
  readonly dim: number;
  /** Embeds `texts`; the returned matrix has `texts.length` rows (not necessarily normalised). */
  embed(texts: readonly string[], options?: EmbedOptions): Promise<EmbeddingMatrix>;
  /** Name and fingerprint of the model. */
  describe(): ModelDescription;
  /** Frees the model's memory. */
  dispose?(): void;
}

/** Turns images into vectors. Rows of the result follow the order of the input. */
export interface ImageEmbedder {
  /** Embedding dimension. */
  readonly dim: number;
  /** Embeds `images`; the returned matrix has `images.length` rows (not necessarily normalised). */
  embed(images: readonly ImageRef[], options?: EmbedOptions): Promise<EmbeddingMatrix>;
  /** Name and fingerprint of the model. */
  describe(): ModelDescription;
  /** Frees the model's memory. */
  dispose?(): void;
}

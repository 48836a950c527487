import { Llm2ClipError, concatRows, type EmbeddingMatrix, type ProgressCallback } from '@llm2clip/core';

/** Anything with the `embed` shape of `TextEmbedder` / `ImageEmbedder`. */
interface Embedder<T> {
  readonly dim: number;
  embed(inputs: readonly T[], options?: { batchSize?: number }): Promise<EmbeddingMatrix>;
}

/** Options of {@link embedInChunks}. */
interface EmbedInChunksOptions {
  batchSize?: number;
  onProgress?: ProgressCallback;
  task: string;
  unit: string;
  /** Names the embedder in error messages. */
  label: string;
}

/** Default inputs per `embed` call. */
export const DEFAULT_BATCH_SIZE = 64;

/** Checks a batch size option. @internal */
export function resolveBatchSize(batchSize: number | undefined): number {
  const size = batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(size) || size < 1) {
    throw new Llm2ClipError('E_CONFIG', `batchSize must be a positive integer, got ${batchSize}`, { field: 'batchSize' });
  }
  return size;
}

/**
 * Calls `embedder.embed` once per `batchSize` inputs and checks that each result has one row
 * per input and the embedder's `dim`, so a faulty embedder fails here with `E_SHAPE` rather than
 * producing wrong metrics later.
 * @internal
 */
export async function embedBatch<T>(
  embedder: Embedder<T>,
  inputs: readonly T[],
  batchSize: number,
  label: string,
): Promise<EmbeddingMatrix> {
  const result = await embedder.embed(inputs, { batchSize });
  if (result.rows !== inputs.length || result.dim !== embedder.dim || result.data.length !== result.rows * result.dim) {
    throw new Llm2ClipError(
      'E_SHAPE',
      `${label} returned ${result.rows}x${result.dim} (${result.data.length} values) for ${inputs.length} inputs; ` +
        `expected ${inputs.length}x${embedder.dim}`,
      { field: label },
    );
  }
  return result;
}

/**
 * Embeds `inputs` in chunks of `batchSize`, reporting progress after each, and stacks the rows.
 * @internal
 */
export async function embedInChunks<T>(
  embedder: Embedder<T>,
  inputs: readonly T[],
  options: EmbedInChunksOptions,
): Promise<EmbeddingMatrix> {
  const batchSize = resolveBatchSize(options.batchSize);
  const parts: EmbeddingMatrix[] = [];
  for (let start = 0; start < inputs.length; start += batchSize) {
    const batch = inputs.slice(start, start + batchSize);
    parts.push(await embedBatch(embedder, batch, batchSize, options.label));
    options.onProgress?.({ task: options.task, done: start + batch.length, total: inputs.length, unit: options.unit });
  }
  if (parts.length === 0) return { rows: 0, dim: embedder.dim, data: new Float32Array(0) };
  return concatRows(parts);
}

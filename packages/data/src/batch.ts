import { Llm2ClipError } from '@llm2clip/core';

/** Options of {@link batchSamples}. */
export interface BatchOptions {
  /** Drop a final batch smaller than `size` (default false). */
  dropLast?: boolean;
}

/**
 * Groups the items of `items` into arrays of `size`, in order. The last batch may be smaller
 * unless `dropLast` is set.
 *
 * @example
 * ```ts
 * for await (const batch of batchSamples(source.samples({ seed: 0 }), 32, { dropLast: true })) train(batch);
 * ```
 */
export async function* batchSamples<T>(items: AsyncIterable<T> | Iterable<T>, size: number, options: BatchOptions = {}): AsyncGenerator<T[]> {
  if (!Number.isInteger(size) || size < 1) throw new Llm2ClipError('E_CONFIG', `batch size must be a positive integer, got ${size}`, { field: 'batchSize' });
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0 && !(options.dropLast ?? false)) yield batch;
}

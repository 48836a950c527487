import { Llm2ClipError, Rng } from '@llm2clip/core';
import type { BatchCursorState } from './batch-cursor.js';

/** One batch of a {@link MixedBatchCursor}: indices into a single source. */
export interface SourceBatch {
  /** Index of the source the batch comes from. */
  source: number;
  /** Item indices within that source. */
  indices: number[];
}

/**
 * Homogeneous batches over several sources, as LLM2Vec / LLM2CLIP's `E5Data` builds them: each
 * epoch, every source's items are shuffled and cut into full batches (an incomplete last batch of
 * a source is dropped), then the batches of all sources are shuffled together. A batch never mixes
 * sources, so in-batch negatives come from the same task. The plan of epoch e depends on the seed
 * and e alone, so a cursor rebuilt from its {@link BatchCursorState} continues exactly.
 */
export class MixedBatchCursor {
  private readonly sizes: readonly number[];
  private readonly batchSize: number;
  private readonly seed: number;
  private epoch: number;
  private position: number;
  private plan: SourceBatch[];

  constructor(sizes: readonly number[], batchSize: number, seed: number, state: BatchCursorState = { epoch: 0, position: 0 }) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Llm2ClipError('E_CONFIG', `batchSize must be a positive integer, got ${batchSize}`, { field: 'batchSize' });
    if (sizes.every((size) => size < batchSize)) {
      throw new Llm2ClipError('E_CONFIG', `batchSize ${batchSize} exceeds every source (${sizes.join(', ')} items)`, { field: 'batchSize' });
    }
    this.sizes = [...sizes];
    this.batchSize = batchSize;
    this.seed = seed;
    this.epoch = state.epoch;
    this.position = state.position;
    this.plan = this.planOf(this.epoch);
  }

  private planOf(epoch: number): SourceBatch[] {
    const rng = new Rng(this.seed).fork(epoch + 1);
    const batches: SourceBatch[] = [];
    this.sizes.forEach((size, source) => {
      const order = rng.permutation(size);
      for (let start = 0; start + this.batchSize <= size; start += this.batchSize) {
        batches.push({ source, indices: order.slice(start, start + this.batchSize) });
      }
    });
    const shuffled = rng.permutation(batches.length);
    return shuffled.map((i) => batches[i]);
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    return this.plan.length;
  }

  /** The next batch. */
  next(): SourceBatch {
    if (this.position >= this.plan.length) {
      this.epoch += 1;
      this.position = 0;
      this.plan = this.planOf(this.epoch);
    }
    const batch = this.plan[this.position];
    this.position += 1;
    return { source: batch.source, indices: [...batch.indices] };
  }

  /** The current position (for checkpoints): epoch and batch index within its plan. */
  state(): BatchCursorState {
    return { epoch: this.epoch, position: this.position };
  }
}

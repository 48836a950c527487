import { Llm2ClipError, Rng } from '@llm2clip/core';

/** Where a {@link BatchCursor} stands; stored in checkpoints as the data cursor. */
export interface BatchCursorState {
  /** Epoch (0-based). */
  epoch: number;
  /** Position within the epoch's order. */
  position: number;
}

/**
 * Hands out batches of indices over `size` items, reshuffled every epoch (the order of epoch e is
 * a permutation drawn from `seed` and e alone, so it can be rebuilt on resume from the cursor
 * state). The last incomplete batch of an epoch is dropped, as `drop_last` does.
 */
export class BatchCursor {
  private readonly size: number;
  private readonly batchSize: number;
  private readonly seed: number;
  private epoch: number;
  private position: number;
  private order: number[];

  constructor(size: number, batchSize: number, seed: number, state: BatchCursorState = { epoch: 0, position: 0 }) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Llm2ClipError('E_CONFIG', `batchSize must be a positive integer, got ${batchSize}`, { field: 'batchSize' });
    if (size < batchSize) throw new Llm2ClipError('E_CONFIG', `batchSize ${batchSize} exceeds the ${size} training items`, { field: 'batchSize' });
    this.size = size;
    this.batchSize = batchSize;
    this.seed = seed;
    this.epoch = state.epoch;
    this.position = state.position;
    this.order = this.orderOf(this.epoch);
  }

  private orderOf(epoch: number): number[] {
    return new Rng(this.seed).fork(epoch + 1).permutation(this.size);
  }

  /** The next batch of indices. */
  next(): number[] {
    if (this.position + this.batchSize > this.size) {
      this.epoch += 1;
      this.position = 0;
      this.order = this.orderOf(this.epoch);
    }
    const batch = this.order.slice(this.position, this.position + this.batchSize);
    this.position += this.batchSize;
    return batch;
  }

  /** The current position (for checkpoints). */
  state(): BatchCursorState {
    return { epoch: this.epoch, position: this.position };
  }
}

import { Llm2ClipError } from '@llm2clip/core';

/**
 * Where this process stands in a data-parallel run: its rank among `worldSize` processes (a
 * `ProcessGroup` of `@llm2clip/distributed` fits). A world of one is a plain single-process run.
 */
export interface DataParallelRank {
  /** Rank of this process, 0 … worldSize-1. */
  readonly rank: number;
  /** Number of processes. */
  readonly worldSize: number;
}

/** Rows `[start, end)` of a global batch that one rank processes. */
export interface LocalRows {
  start: number;
  end: number;
}

/**
 * The rows of a global batch of `batchSize` that `rank` processes: `[rank·B/n, (rank+1)·B/n)`.
 * Every rank walks the same sequence of global batches (same seed, same cursor) and takes its
 * contiguous slice, so rank r's rows are exactly rows `start…end-1` of the single-process batch —
 * which is what makes the gathered loss's labels `start + i` (open_clip's `rank · localBatch + i`).
 * Throws `E_CONFIG` unless `batchSize` divides evenly (the global batch stays what the config says).
 */
export function localRows(batchSize: number, { rank, worldSize }: DataParallelRank): LocalRows {
  if (!Number.isInteger(worldSize) || worldSize < 1 || !Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new Llm2ClipError('E_CONFIG', `rank ${rank} is not a rank of a world of ${worldSize}`, { field: 'rank' });
  }
  if (batchSize % worldSize !== 0) {
    throw new Llm2ClipError('E_CONFIG', `the global batchSize ${batchSize} must be a multiple of the world size ${worldSize} (every rank takes batchSize / worldSize rows)`, {
      field: 'batchSize',
    });
  }
  const local = batchSize / worldSize;
  return { start: rank * local, end: (rank + 1) * local };
}

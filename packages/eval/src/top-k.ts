import { Llm2ClipError, type EmbeddingMatrix } from '@llm2clip/core';
import {
  assertSameDim,
  blockFiller,
  prepareEmbeddings,
  resolveBlockRows,
  type SimilarityOptions,
} from './similarity.js';

/**
 * The ranking order used everywhere in this package: item `a` comes before item `b` when its
 * score is higher, or when the scores are equal and `a` has the lower index. Ranks are therefore
 * deterministic even with ties:
 *
 * `rank(j) = 1 + #{i : s_i > s_j} + #{i : s_i = s_j and i < j}` (1-based).
 *
 * NaN scores never come before anything (the similarity functions reject NaN inputs).
 */
export function ranksBefore(scoreA: number, indexA: number, scoreB: number, indexB: number): boolean {
  return scoreA > scoreB || (scoreA === scoreB && indexA < indexB);
}

/**
 * The 1-based rank of item `target` among `scores` under the {@link ranksBefore} order
 * (ties go to the lower index). One pass, no sorting.
 *
 * @throws Llm2ClipError `E_SHAPE` when `target` is out of range, `E_DATA` when its score is NaN.
 * @example
 * ```ts
 * rankOf([0.2, 0.9, 0.9, 0.1], 2); // 3: index 1 is higher-or-equal with a lower index
 * ```
 */
export function rankOf(scores: ArrayLike<number>, target: number): number {
  checkIndex(target, scores.length, 'target');
  const value = scores[target];
  if (Number.isNaN(value)) throw new Llm2ClipError('E_DATA', `score of target ${target} is NaN`, { field: 'scores' });
  let before = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (s > value || (s === value && i < target)) before++;
  }
  return before + 1;
}

/**
 * The best (smallest) 1-based rank among several positive items, e.g. the rank of the
 * best-ranked matching caption of an image. Finds the best positive first, then counts once.
 *
 * @throws Llm2ClipError `E_CONFIG` when `targets` is empty, `E_SHAPE` when one is out of range.
 */
export function bestRankOf(scores: ArrayLike<number>, targets: ArrayLike<number>): number {
  if (targets.length === 0) throw new Llm2ClipError('E_CONFIG', 'bestRankOf needs at least one target', { field: 'targets' });
  let best = targets[0];
  checkIndex(best, scores.length, 'targets');
  for (let t = 1; t < targets.length; t++) {
    const candidate = targets[t];
    checkIndex(candidate, scores.length, 'targets');
    if (ranksBefore(scores[candidate], candidate, scores[best], best)) best = candidate;
  }
  return rankOf(scores, best);
}

/**
 * Indices of the `k` best items of `scores` in rank order (highest score first, ties by lower
 * index), using a bounded heap: O(n log k) time and O(k) memory, no sort of the full array.
 * Returns `min(k, scores.length)` indices.
 *
 * @throws Llm2ClipError `E_CONFIG` when `k` is not a non-negative integer.
 */
export function topKIndices(scores: ArrayLike<number>, k: number): Int32Array {
  if (!Number.isInteger(k) || k < 0) throw new Llm2ClipError('E_CONFIG', `k must be a non-negative integer, got ${k}`, { field: 'k' });
  const size = Math.min(k, scores.length);
  const heap = new Int32Array(size);
  if (size === 0) return heap;
  // Min-heap under the ranking order: heap[0] is the worst of the kept items.
  const worse = (i: number, j: number): boolean => ranksBefore(scores[j], j, scores[i], i);
  const siftDown = (start: number, length: number): void => {
    let parent = start;
    for (;;) {
      const left = 2 * parent + 1;
      if (left >= length) return;
      const right = left + 1;
      let child = left;
      if (right < length && worse(heap[right], heap[left])) child = right;
      if (!worse(heap[child], heap[parent])) return;
      const tmp = heap[parent];
      heap[parent] = heap[child];
      heap[child] = tmp;
      parent = child;
    }
  };
  for (let i = 0; i < size; i++) heap[i] = i;
  for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(i, size);
  for (let i = size; i < scores.length; i++) {
    if (ranksBefore(scores[i], i, scores[heap[0]], heap[0])) {
      heap[0] = i;
      siftDown(0, size);
    }
  }
  // Heap sort: repeatedly move the worst kept item to the end, giving best-first order.
  for (let end = size - 1; end > 0; end--) {
    const tmp = heap[0];
    heap[0] = heap[end];
    heap[end] = tmp;
    siftDown(0, end);
  }
  return heap;
}

/** Result of {@link topK}: for each query row, the `k` best gallery items. */
export interface TopKResult {
  /** Number of query rows. */
  readonly rows: number;
  /** Items per row: `min(requested k, gallery rows)`. */
  readonly k: number;
  /** `rows * k` gallery indices, row-major, best first. */
  readonly indices: Int32Array;
  /** `rows * k` cosine similarities aligned with `indices`. */
  readonly scores: Float32Array;
}

/**
 * The `k` most similar gallery rows (by cosine) of every query row, computed blockwise: memory is
 * one similarity block plus the `rows × k` result, never the full matrix. Ties go to the lower
 * gallery index (see {@link ranksBefore}).
 *
 * @throws Llm2ClipError `E_SHAPE` when the dims differ, `E_CONFIG` for a bad `k`, `E_DATA` for NaN inputs.
 */
export function topK(
  queries: EmbeddingMatrix,
  gallery: EmbeddingMatrix,
  k: number,
  options: SimilarityOptions = {},
): TopKResult {
  if (!Number.isInteger(k) || k < 0) throw new Llm2ClipError('E_CONFIG', `k must be a non-negative integer, got ${k}`, { field: 'k' });
  assertSameDim(queries, 'queries', gallery, 'gallery');
  const a = prepareEmbeddings(queries, 'queries', options.assumeNormalized);
  const b = prepareEmbeddings(gallery, 'gallery', options.assumeNormalized);
  const kept = Math.min(k, b.rows);
  const indices = new Int32Array(a.rows * kept);
  const scores = new Float32Array(a.rows * kept);
  const blockRows = resolveBlockRows(options.blockRows, b.rows);
  const block = new Float32Array(Math.min(blockRows, a.rows) * b.rows);
  const fill = blockFiller(a, b, Math.min(blockRows, a.rows), options.kernel);
  for (let rowStart = 0; rowStart < a.rows; rowStart += blockRows) {
    const rowCount = Math.min(blockRows, a.rows - rowStart);
    fill(rowStart, rowCount, block);
    for (let r = 0; r < rowCount; r++) {
      const row = block.subarray(r * b.rows, (r + 1) * b.rows);
      const best = topKIndices(row, kept);
      const out = (rowStart + r) * kept;
      for (let t = 0; t < kept; t++) {
        indices[out + t] = best[t];
        scores[out + t] = row[best[t]];
      }
    }
  }
  return { rows: a.rows, k: kept, indices, scores };
}

function checkIndex(index: number, length: number, field: string): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new Llm2ClipError('E_SHAPE', `index ${index} out of range for ${length} scores`, { field });
  }
}

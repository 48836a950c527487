import { Llm2ClipError, l2NormalizeRows, type EmbeddingMatrix } from '@llm2clip/core';
import { SimdBlockKernel, laneDot } from './wasm-similarity.js';

/** A dense row-major float32 matrix of similarities: `rows × cols` values in `data`. */
export interface SimilarityMatrix {
  /** Number of rows (one per query). */
  readonly rows: number;
  /** Number of columns (one per gallery item). */
  readonly cols: number;
  /** `rows * cols` values, row-major: `data[r * cols + c]` is the similarity of query `r` and item `c`. */
  readonly data: Float32Array;
}

/** A horizontal slice of a similarity matrix: query rows `rowStart … rowStart + rowCount - 1` against every gallery item. */
export interface SimilarityBlock {
  /** Index of the first query row in the block. */
  readonly rowStart: number;
  /** Number of query rows in the block. */
  readonly rowCount: number;
  /** Number of columns (gallery items). */
  readonly cols: number;
  /** `rowCount * cols` values, row-major. */
  readonly data: Float32Array;
}

/** Options of the blockwise similarity functions. */
export interface SimilarityOptions {
  /**
   * Query rows per block. Default: as many as keep one block at about 4 Mi values (16 MiB),
   * at least 1. Peak memory is one block plus normalised copies of both inputs.
   */
  blockRows?: number;
  /**
   * Skip L2 normalisation because the rows already have unit norm (saves a copy of each input).
   * Default `false`: inputs are normalised, so the result is the cosine similarity.
   */
  assumeNormalized?: boolean;
  /**
   * Which kernel computes the dot products: `auto` (default) uses the WebAssembly SIMD kernel where
   * the runtime has it and plain JavaScript otherwise; `js` forces plain JavaScript. Both sum every
   * pair the same way, so they give identical values.
   */
  kernel?: 'auto' | 'js';
}

/** Values per block aimed at when `blockRows` is not given (16 MiB of float32). */
const TARGET_BLOCK_VALUES = 1 << 22;

/**
 * Checks `matrix` for a consistent shape and finite values and returns it with unit-norm rows
 * (a copy) unless `assumeNormalized`. `label` names the matrix in error messages.
 * @internal
 */
export function prepareEmbeddings(matrix: EmbeddingMatrix, label: string, assumeNormalized = false): EmbeddingMatrix {
  if (matrix.data.length !== matrix.rows * matrix.dim) {
    throw new Llm2ClipError(
      'E_SHAPE',
      `${label} claims ${matrix.rows}x${matrix.dim} but holds ${matrix.data.length} values`,
      { field: label },
    );
  }
  const data = matrix.data;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      const row = Math.floor(i / matrix.dim);
      throw new Llm2ClipError('E_DATA', `${label} row ${row} contains a non-finite value (${data[i]})`, {
        field: label,
      });
    }
  }
  return assumeNormalized ? matrix : l2NormalizeRows(matrix);
}

/** Throws `E_SHAPE` unless both matrices have the same embedding dimension. */
export function assertSameDim(a: EmbeddingMatrix, aLabel: string, b: EmbeddingMatrix, bLabel: string): void {
  if (a.dim !== b.dim) {
    throw new Llm2ClipError('E_SHAPE', `${aLabel} have dim ${a.dim} but ${bLabel} have dim ${b.dim}; they must match`, {
      field: bLabel,
    });
  }
}

/** Resolves the `blockRows` option for a gallery of `cols` items. @internal */
export function resolveBlockRows(blockRows: number | undefined, cols: number): number {
  if (blockRows === undefined) return Math.max(1, Math.floor(TARGET_BLOCK_VALUES / Math.max(1, cols)));
  if (!Number.isInteger(blockRows) || blockRows < 1) {
    throw new Llm2ClipError('E_CONFIG', `blockRows must be a positive integer, got ${blockRows}`, { field: 'blockRows' });
  }
  return blockRows;
}

/**
 * Dot product of row `aRow` of `a` and row `bRow` of `b` in float32, summed in four lanes exactly
 * as the block kernels sum it (see `laneDot`). Every similarity in this package comes from this
 * summation order, so a score recomputed here equals the value stored in a block — which the rank
 * computations rely on.
 * @internal
 */
export function dotRows(a: EmbeddingMatrix, aRow: number, b: EmbeddingMatrix, bRow: number): number {
  return laneDot(a.data as Float32Array, aRow * a.dim, b.data as Float32Array, bRow * b.dim, a.dim);
}

/**
 * Writes the dot products of query rows `rowStart … rowStart + rowCount - 1` of `a` with every
 * row of `b` into `out` (row-major, `rowCount × b.rows`) in plain JavaScript, pair by pair with
 * {@link dotRows}. The fallback of {@link blockFiller}.
 * @internal
 */
export function fillSimilarityBlock(a: EmbeddingMatrix, b: EmbeddingMatrix, rowStart: number, rowCount: number, out: Float32Array): void {
  const cols = b.rows;
  for (let r = 0; r < rowCount; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) out[o + j] = dotRows(a, rowStart + r, b, j);
  }
}

/** Fills one block of query rows × all gallery rows (see {@link blockFiller}). @internal */
export type BlockFiller = (rowStart: number, rowCount: number, out: Float32Array) => void;

/**
 * A function computing blocks of `a` × `b` dot products of at most `maxBlockRows` query rows:
 * the WebAssembly SIMD kernel (both inputs copied into its memory once), or plain JavaScript where
 * SIMD is unavailable or `kernel` is `js`. Both give identical values.
 * @internal
 */
export function blockFiller(a: EmbeddingMatrix, b: EmbeddingMatrix, maxBlockRows: number, kernel: 'auto' | 'js' = 'auto'): BlockFiller {
  const simd = kernel === 'auto' && a.rows > 0 && b.rows > 0 ? SimdBlockKernel.create(asFloat32(a), asFloat32(b), maxBlockRows) : undefined;
  if (simd !== undefined) return (rowStart, rowCount, out) => simd.fill(rowStart, rowCount, b.rows, out);
  return (rowStart, rowCount, out) => fillSimilarityBlock(a, b, rowStart, rowCount, out);
}

function asFloat32(matrix: EmbeddingMatrix): { rows: number; dim: number; data: Float32Array } {
  const data = matrix.data instanceof Float32Array ? matrix.data : Float32Array.from(matrix.data);
  return { rows: matrix.rows, dim: matrix.dim, data };
}

/**
 * Iterates the cosine similarity of every row of `queries` with every row of `gallery`, one
 * block of query rows at a time, so that no full matrix is ever held (25k × 5k at dim 512 needs
 * the two normalised inputs plus one 16 MiB block). Values are float32, summed in float32 by the
 * WebAssembly SIMD kernel (or identically in plain JavaScript where SIMD is missing).
 *
 * Each yielded block owns a fresh `data` array, so blocks may be kept.
 *
 * @throws Llm2ClipError `E_SHAPE` when the dims differ, `E_DATA` when an input holds NaN/Infinity.
 * @example
 * ```ts
 * for (const block of similarityBlocks(images, texts)) {
 *   // block.data[(r - block.rowStart) * block.cols + c] = cos(images[r], texts[c])
 * }
 * ```
 */
export function* similarityBlocks(
  queries: EmbeddingMatrix,
  gallery: EmbeddingMatrix,
  options: SimilarityOptions = {},
): Generator<SimilarityBlock, void, undefined> {
  assertSameDim(queries, 'queries', gallery, 'gallery');
  const blockRows = resolveBlockRows(options.blockRows, gallery.rows);
  const a = prepareEmbeddings(queries, 'queries', options.assumeNormalized);
  const b = prepareEmbeddings(gallery, 'gallery', options.assumeNormalized);
  const fill = blockFiller(a, b, Math.min(blockRows, a.rows), options.kernel);
  for (let rowStart = 0; rowStart < a.rows; rowStart += blockRows) {
    const rowCount = Math.min(blockRows, a.rows - rowStart);
    const data = new Float32Array(rowCount * b.rows);
    fill(rowStart, rowCount, data);
    yield { rowStart, rowCount, cols: b.rows, data };
  }
}

/**
 * The full cosine similarity matrix of `queries` (rows) and `gallery` (columns) in float32,
 * computed blockwise. Needs `queries.rows × gallery.rows × 4` bytes; for large sets prefer
 * {@link similarityBlocks} or the rank/top-k functions, which never hold the full matrix.
 *
 * @throws Llm2ClipError `E_SHAPE` when the dims differ, `E_DATA` when an input holds NaN/Infinity.
 */
export function cosineSimilarity(
  queries: EmbeddingMatrix,
  gallery: EmbeddingMatrix,
  options: SimilarityOptions = {},
): SimilarityMatrix {
  const data = new Float32Array(queries.rows * gallery.rows);
  for (const block of similarityBlocks(queries, gallery, options)) {
    data.set(block.data, block.rowStart * block.cols);
  }
  return { rows: queries.rows, cols: gallery.rows, data };
}

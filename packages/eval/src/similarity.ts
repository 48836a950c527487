import { Llm2ClipError, l2NormalizeRows, type EmbeddingMatrix } from '@llm2clip/core';

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
 * Dot product of row `aRow` of `a` and row `bRow` of `b`, summed left to right in double
 * precision. Every similarity in this package comes from exactly this summation order (the
 * blocked kernel below keeps it per pair), so a score recomputed here equals, bit for bit, the
 * value stored in a block after `Math.fround` — which the rank computations rely on.
 * @internal
 */
export function dotRows(a: EmbeddingMatrix, aRow: number, b: EmbeddingMatrix, bRow: number): number {
  const dim = a.dim;
  const x = a.data;
  const y = b.data;
  const xo = aRow * dim;
  const yo = bRow * dim;
  let sum = 0;
  for (let k = 0; k < dim; k++) sum += x[xo + k] * y[yo + k];
  return sum;
}

/** Gallery columns per cache tile of the blocked kernel. */
const COLUMN_TILE = 128;

/**
 * Writes the dot products of query rows `rowStart … rowStart + rowCount - 1` of `a` with every
 * row of `b` into `out` (row-major, `rowCount × b.rows`). Inputs are used as given (normalise
 * first for cosine similarity).
 *
 * The kernel computes 4 query rows × 4 gallery rows at a time over column tiles that stay in
 * cache; each pair still accumulates in its own variable from k = 0 upwards, so results are
 * identical to {@link dotRows}.
 * @internal
 */
export function fillSimilarityBlock(
  a: EmbeddingMatrix,
  b: EmbeddingMatrix,
  rowStart: number,
  rowCount: number,
  out: Float32Array,
): void {
  const dim = a.dim;
  const cols = b.rows;
  const x = a.data;
  const y = b.data;
  const rowEnd = rowStart + rowCount;
  for (let c0 = 0; c0 < cols; c0 += COLUMN_TILE) {
    const c1 = Math.min(cols, c0 + COLUMN_TILE);
    let i = rowStart;
    for (; i + 4 <= rowEnd; i += 4) {
      const a0 = i * dim;
      const a1 = a0 + dim;
      const a2 = a1 + dim;
      const a3 = a2 + dim;
      let j = c0;
      for (; j + 4 <= c1; j += 4) {
        const b0 = j * dim;
        const b1 = b0 + dim;
        const b2 = b1 + dim;
        const b3 = b2 + dim;
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0;
        let s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        let s20 = 0, s21 = 0, s22 = 0, s23 = 0;
        let s30 = 0, s31 = 0, s32 = 0, s33 = 0;
        for (let k = 0; k < dim; k++) {
          const x0 = x[a0 + k];
          const x1 = x[a1 + k];
          const x2 = x[a2 + k];
          const x3 = x[a3 + k];
          const y0 = y[b0 + k];
          const y1 = y[b1 + k];
          const y2 = y[b2 + k];
          const y3 = y[b3 + k];
          s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
          s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
          s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
          s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
        }
        let o = (i - rowStart) * cols + j;
        out[o] = s00; out[o + 1] = s01; out[o + 2] = s02; out[o + 3] = s03;
        o += cols;
        out[o] = s10; out[o + 1] = s11; out[o + 2] = s12; out[o + 3] = s13;
        o += cols;
        out[o] = s20; out[o + 1] = s21; out[o + 2] = s22; out[o + 3] = s23;
        o += cols;
        out[o] = s30; out[o + 1] = s31; out[o + 2] = s32; out[o + 3] = s33;
      }
      for (; j < c1; j++) {
        const o = (i - rowStart) * cols + j;
        out[o] = dotRows(a, i, b, j);
        out[o + cols] = dotRows(a, i + 1, b, j);
        out[o + 2 * cols] = dotRows(a, i + 2, b, j);
        out[o + 3 * cols] = dotRows(a, i + 3, b, j);
      }
    }
    for (; i < rowEnd; i++) {
      const o = (i - rowStart) * cols;
      for (let j = c0; j < c1; j++) out[o + j] = dotRows(a, i, b, j);
    }
  }
}

/**
 * Iterates the cosine similarity of every row of `queries` with every row of `gallery`, one
 * block of query rows at a time, so that no full matrix is ever held (25k × 5k at dim 512 needs
 * the two normalised inputs plus one 16 MiB block). Values are float32; each dot product is
 * summed in double precision before rounding to float32.
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
  for (let rowStart = 0; rowStart < a.rows; rowStart += blockRows) {
    const rowCount = Math.min(blockRows, a.rows - rowStart);
    const data = new Float32Array(rowCount * b.rows);
    fillSimilarityBlock(a, b, rowStart, rowCount, data);
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

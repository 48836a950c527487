import { Llm2ClipError } from './errors.js';

/**
 * A dense row-major float32 matrix: `rows × dim` values in `data`. This is what embedders
 * return and what the evaluation suite consumes, so no tensor library is needed to use them.
 */
export interface EmbeddingMatrix {
  /** Number of rows (one per input). */
  readonly rows: number;
  /** Number of columns (the embedding dimension). */
  readonly dim: number;
  /** `rows * dim` values, row-major. */
  readonly data: Float32Array;
}

/** Builds an {@link EmbeddingMatrix}, checking that `data` holds exactly `rows * dim` values. */
export function embeddingMatrix(rows: number, dim: number, data: Float32Array): EmbeddingMatrix {
  if (!Number.isInteger(rows) || !Number.isInteger(dim) || rows < 0 || dim < 0) {
    throw new Llm2ClipError('E_SHAPE', `invalid matrix shape ${rows}x${dim}`);
  }
  if (data.length !== rows * dim) {
    throw new Llm2ClipError('E_SHAPE', `matrix ${rows}x${dim} needs ${rows * dim} values, got ${data.length}`);
  }
  return { rows, dim, data };
}

/** Returns row `index` of `matrix` as a view (no copy). */
export function matrixRow(matrix: EmbeddingMatrix, index: number): Float32Array {
  if (index < 0 || index >= matrix.rows) {
    throw new Llm2ClipError('E_SHAPE', `row ${index} out of range for ${matrix.rows} rows`);
  }
  return matrix.data.subarray(index * matrix.dim, (index + 1) * matrix.dim);
}

/** Stacks matrices of equal `dim` vertically into a new matrix. */
export function concatRows(parts: readonly EmbeddingMatrix[]): EmbeddingMatrix {
  if (parts.length === 0) return embeddingMatrix(0, 0, new Float32Array(0));
  const dim = parts[0].dim;
  let rows = 0;
  for (const part of parts) {
    if (part.dim !== dim) throw new Llm2ClipError('E_SHAPE', `cannot stack dim ${part.dim} under dim ${dim}`);
    rows += part.rows;
  }
  const data = new Float32Array(rows * dim);
  let offset = 0;
  for (const part of parts) {
    data.set(part.data, offset);
    offset += part.data.length;
  }
  return embeddingMatrix(rows, dim, data);
}

/** Returns a copy of `matrix` whose rows have unit L2 norm (zero rows stay zero). */
export function l2NormalizeRows(matrix: EmbeddingMatrix): EmbeddingMatrix {
  const out = new Float32Array(matrix.data.length);
  for (let r = 0; r < matrix.rows; r++) {
    const start = r * matrix.dim;
    let sum = 0;
    for (let c = 0; c < matrix.dim; c++) sum += matrix.data[start + c] ** 2;
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let c = 0; c < matrix.dim; c++) out[start + c] = matrix.data[start + c] * scale;
  }
  return embeddingMatrix(matrix.rows, matrix.dim, out);
}

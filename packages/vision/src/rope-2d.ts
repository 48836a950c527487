/**
 * EVA02's 2-D rotary position tables (EVA-CLIP `VisionRotaryEmbeddingFast(dim = headDim/2,
 * pt_seq_len = referenceGrid, ft_seq_len = grid)`, timm `RotaryEmbeddingCat(in_pixels=False,
 * ref_feat_shape)`): per axis `headDim/4` frequencies `θ^(−k/(headDim/4))` at positions
 * `i · referenceGrid / grid`, each repeated twice (interleaved pairs), the row axis filling the
 * first half of the head and the column axis the second. Rows are patches in row-major order.
 * Returns `cos` and `sin`, each `[grid², headDim]`, computed in float64 and rounded to float32.
 */
export function rope2dTables(headDim: number, grid: number, referenceGrid: number, theta = 10000): { cos: Float32Array; sin: Float32Array } {
  const quarter = headDim / 4;
  const freqs = new Float64Array(quarter);
  // torch computes 1/(theta ** (arange(0, dim, 2)/dim)) in float32, dim = headDim/2
  for (let k = 0; k < quarter; k++) freqs[k] = Math.fround(1 / Math.fround(theta ** Math.fround((2 * k) / (headDim / 2))));
  const cos = new Float32Array(grid * grid * headDim);
  const sin = new Float32Array(grid * grid * headDim);
  const position = (i: number): number => Math.fround(Math.fround(i / grid) * referenceGrid);
  for (let y = 0; y < grid; y++) {
    for (let x = 0; x < grid; x++) {
      const row = (y * grid + x) * headDim;
      for (let k = 0; k < quarter; k++) {
        const fy = Math.fround(position(y) * freqs[k]);
        const fx = Math.fround(position(x) * freqs[k]);
        for (const r of [0, 1]) {
          cos[row + 2 * k + r] = Math.cos(fy);
          sin[row + 2 * k + r] = Math.sin(fy);
          cos[row + headDim / 2 + 2 * k + r] = Math.cos(fx);
          sin[row + headDim / 2 + 2 * k + r] = Math.sin(fx);
        }
      }
    }
  }
  return { cos, sin };
}

/**
 * The `[headDim, headDim]` matrix `R` with `x·R = rotate_half(x)` for interleaved pairs
 * (`(x0, x1, x2, x3, …) → (−x1, x0, −x3, x2, …)`), so rotation is `x·cos + (x·R)·sin`.
 */
export function rotateHalfMatrix(headDim: number): Float32Array {
  const m = new Float32Array(headDim * headDim);
  for (let i = 0; i < headDim; i += 2) {
    m[(i + 1) * headDim + i] = -1;
    m[i * headDim + i + 1] = 1;
  }
  return m;
}

import { Llm2ClipError } from '@llm2clip/core';

/**
 * A float image or grid in HWC order (`data[(y·width + x)·channels + c]`), e.g. a grid of
 * position embeddings (`channels` = hidden size).
 */
export interface FloatGrid {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

/** Options of {@link resizeBicubicFloat}. */
export interface BicubicFloatOptions {
  /**
   * `false` (default): PyTorch's `F.interpolate(mode='bicubic', align_corners=False)` — Keys'
   * cubic convolution with A = −0.75, four taps, edge pixels replicated. `true`: the same call with
   * `antialias=True` — PIL's separable filter (A = −0.5, support widened by the scale when
   * downsampling, weights normalised per output pixel), which open_clip's `resize_pos_embed` uses.
   */
  antialias?: boolean;
}

function checkGrid(grid: FloatGrid, outWidth: number, outHeight: number): void {
  if (grid.data.length !== grid.width * grid.height * grid.channels) {
    throw new Llm2ClipError('E_SHAPE', `grid ${grid.width}x${grid.height}x${grid.channels} needs ${grid.width * grid.height * grid.channels} values, got ${grid.data.length}`, { field: 'grid' });
  }
  if (!Number.isInteger(outWidth) || !Number.isInteger(outHeight) || outWidth <= 0 || outHeight <= 0) {
    throw new Llm2ClipError('E_CONFIG', `output size must be positive integers, got ${outWidth}x${outHeight}`, { field: 'size' });
  }
}

// PyTorch's cubic_convolution1/2 (aten/src/ATen/native/UpSample.h), A = -0.75
const TORCH_A = -0.75;
function cubic1(x: number): number {
  return ((TORCH_A + 2) * x - (TORCH_A + 3)) * x * x + 1;
}
function cubic2(x: number): number {
  return ((TORCH_A * x - 5 * TORCH_A) * x + 8 * TORCH_A) * x - 4 * TORCH_A;
}

/** Per output index: four source indices (clamped) and their weights, as PyTorch's upsample_bicubic2d. */
function torchTaps(inSize: number, outSize: number): { index: Int32Array; weight: Float64Array } {
  const scale = inSize / outSize;
  const index = new Int32Array(outSize * 4);
  const weight = new Float64Array(outSize * 4);
  for (let o = 0; o < outSize; o++) {
    // area_pixel_compute_source_index with cubic = true: not clamped at 0
    const real = scale * (o + 0.5) - 0.5;
    const base = Math.floor(real);
    const t = real - base;
    const w = [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)];
    for (let k = 0; k < 4; k++) {
      index[o * 4 + k] = Math.min(Math.max(base - 1 + k, 0), inSize - 1);
      weight[o * 4 + k] = w[k];
    }
  }
  return { index, weight };
}

/** PIL's bicubic filter (`Resample.c`, a = −0.5, support 2). */
export function pilBicubicFilter(x: number): number {
  const a = -0.5;
  const ax = Math.abs(x);
  if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
  if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
  return 0;
}

/**
 * The taps of PIL's `precompute_coeffs` (also PyTorch's antialiased interpolation): for output
 * pixel `o`, source pixels `start[o] … start[o] + count[o] − 1` with normalised weights
 * `weight[o·ksize + j]`. `in0`/`in1` are the source box edges (0 and `inSize` for a whole row).
 */
export function pilTaps(inSize: number, outSize: number, in0 = 0, in1 = inSize): { start: Int32Array; count: Int32Array; weight: Float64Array; ksize: number } {
  const scale = (in1 - in0) / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weight = new Float64Array(outSize * ksize);
  const inverse = 1 / filterScale;
  for (let o = 0; o < outSize; o++) {
    const center = in0 + (o + 0.5) * scale;
    // C's (int) cast truncates toward zero
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = pilBicubicFilter((x + xmin - center + 0.5) * inverse);
      weight[o * ksize + x] = w;
      total += w;
    }
    if (total !== 0) for (let x = 0; x < xmax; x++) weight[o * ksize + x] /= total;
    start[o] = xmin;
    count[o] = xmax;
  }
  return { start, count, weight, ksize };
}

const f32 = Math.fround;

/** PyTorch's `aa_filter` for bicubic (a = −0.5): argument and result in float32, arithmetic in double. */
function torchAaFilter(x: number): number {
  const a = -0.5;
  let ax = f32(x);
  if (ax < 0) ax = -ax;
  if (ax < 1) return f32(((a + 2) * ax - (a + 3)) * ax * ax + 1);
  if (ax < 2) return f32((((ax - 5) * ax + 8) * ax - 4) * a);
  return 0;
}

/**
 * The taps of PyTorch's antialiased interpolation (`_compute_weights_aa` with `scalar_t = float`),
 * emulating its float32 arithmetic so that uint8 results round the same way.
 */
function torchAaTaps(inSize: number, outSize: number): { start: Int32Array; count: Int32Array; weight: Float32Array; ksize: number } {
  const scale = f32(inSize / outSize);
  const support = scale >= 1 ? f32(2 * scale) : 2;
  const invscale = scale >= 1 ? f32(1 / scale) : 1;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weight = new Float32Array(outSize * ksize);
  for (let o = 0; o < outSize; o++) {
    const center = f32(scale * (o + 0.5));
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xsize = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let j = 0; j < xsize; j++) {
      const w = torchAaFilter((f32(j + xmin - center) + 0.5) * invscale);
      weight[o * ksize + j] = w;
      total = f32(total + w);
    }
    if (total !== 0) for (let j = 0; j < xsize; j++) weight[o * ksize + j] = f32(weight[o * ksize + j] / total);
    start[o] = xmin;
    count[o] = xsize;
  }
  return { start, count, weight, ksize };
}

/** One antialiased pass along an axis, float32 accumulation in tap order (PyTorch's `interpolate_aa_single_dim`). */
function aaPass(src: Float32Array, lines: number, inSize: number, outSize: number, channels: number, alongRows: boolean, width: number): Float32Array {
  const taps = torchAaTaps(inSize, outSize);
  if (!alongRows) {
    // horizontal: src [lines=height][inSize=width][channels] → [height][outSize][channels]
    const out = new Float32Array(lines * outSize * channels);
    for (let y = 0; y < lines; y++) {
      for (let o = 0; o < outSize; o++) {
        for (let c = 0; c < channels; c++) {
          let t = 0;
          for (let j = 0; j < taps.count[o]; j++) {
            const v = src[(y * inSize + taps.start[o] + j) * channels + c];
            t = j === 0 ? f32(v * taps.weight[o * taps.ksize]) : f32(t + f32(v * taps.weight[o * taps.ksize + j]));
          }
          out[(y * outSize + o) * channels + c] = t;
        }
      }
    }
    return out;
  }
  // vertical: src [inSize=height][width][channels] → [outSize][width][channels]
  const row = width * channels;
  const out = new Float32Array(outSize * row);
  for (let o = 0; o < outSize; o++) {
    for (let i = 0; i < row; i++) {
      let t = 0;
      for (let j = 0; j < taps.count[o]; j++) {
        const v = src[(taps.start[o] + j) * row + i];
        t = j === 0 ? f32(v * taps.weight[o * taps.ksize]) : f32(t + f32(v * taps.weight[o * taps.ksize + j]));
      }
      out[o * row + i] = t;
    }
  }
  return out;
}

/**
 * Resizes a float HWC grid with bicubic interpolation exactly as PyTorch's `F.interpolate(…,
 * mode='bicubic', align_corners=False)` (optionally `antialias=True`): the plain path in float64,
 * the antialiased path emulating PyTorch's float32 arithmetic and pass order; float32 out. Used for position-embedding grids (open_clip's `resize_pos_embed`, Hugging
 * Face's `interpolate_pos_encoding`).
 */
export function resizeBicubicFloat(grid: FloatGrid, outWidth: number, outHeight: number, options: BicubicFloatOptions = {}): FloatGrid {
  checkGrid(grid, outWidth, outHeight);
  const { width, height, channels, data } = grid;
  const out = new Float32Array(outWidth * outHeight * channels);
  if (options.antialias === true) {
    // separable, width first then height, passes skipped when a side keeps its size (PyTorch's
    // _separable_upsample_generic_Nd_kernel_impl), float32 throughout as PyTorch computes it
    let current: Float32Array = Float32Array.from(data);
    if (outWidth !== width) current = aaPass(current, height, width, outWidth, channels, false, outWidth);
    if (outHeight !== height) current = aaPass(current, outHeight, height, outHeight, channels, true, outWidth);
    out.set(current);
    return { width: outWidth, height: outHeight, channels, data: out };
  }
  const xs = torchTaps(width, outWidth);
  const ys = torchTaps(height, outHeight);
  const row = new Float64Array(4 * channels);
  for (let oy = 0; oy < outHeight; oy++) {
    for (let ox = 0; ox < outWidth; ox++) {
      // interpolate the four rows horizontally, then the results vertically (PyTorch's order)
      row.fill(0);
      for (let r = 0; r < 4; r++) {
        const y = ys.index[oy * 4 + r];
        for (let k = 0; k < 4; k++) {
          const w = xs.weight[ox * 4 + k];
          const src = (y * width + xs.index[ox * 4 + k]) * channels;
          for (let c = 0; c < channels; c++) row[r * channels + c] += w * data[src + c];
        }
      }
      const dst = (oy * outWidth + ox) * channels;
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let r = 0; r < 4; r++) sum += ys.weight[oy * 4 + r] * row[r * channels + c];
        out[dst + c] = sum;
      }
    }
  }
  return { width: outWidth, height: outHeight, channels, data: out };
}

/** Pillow's 8-bit fixed-point taps: {@link pilTaps} scaled by 2^22 and rounded half away from zero (`normalize_coeffs_8bpc`). */
export interface PilFixedTaps {
  start: Int32Array;
  count: Int32Array;
  weight: Int32Array;
  ksize: number;
}

const FIXED_ONE = 2 ** 22;
const FIXED_CACHE_LIMIT = 1024;
const fixedCache = new Map<string, PilFixedTaps>();

/**
 * The fixed-point taps of Pillow's 8-bit bicubic resample from `inSize` to `outSize` pixels (a
 * whole row or column), as `Resample.c` computes them. Memoised per size pair (the returned arrays
 * are shared: do not write to them).
 */
export function pilFixedTaps(inSize: number, outSize: number): PilFixedTaps {
  const key = `${inSize}>${outSize}`;
  const cached = fixedCache.get(key);
  if (cached !== undefined) return cached;
  const taps = pilTaps(inSize, outSize);
  const weight = new Int32Array(taps.weight.length);
  for (let i = 0; i < weight.length; i++) {
    const w = taps.weight[i] * FIXED_ONE;
    weight[i] = w < 0 ? Math.trunc(-0.5 + w) : Math.trunc(0.5 + w);
  }
  const fixed = { start: taps.start, count: taps.count, weight, ksize: taps.ksize };
  if (fixedCache.size >= FIXED_CACHE_LIMIT) fixedCache.clear();
  fixedCache.set(key, fixed);
  return fixed;
}

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Interface version the JS side expects of the addon (`kAbiVersion` in native/addon.cc). */
export const NATIVE_ABI_VERSION = 3;

/** Environment variable that points the loader at another build of the addon. */
export const NATIVE_PATH_ENV = 'LLM2CLIP_NATIVE_PATH';

/**
 * A batched operand of the addon's epilogue (bias, PReLU weights): element `(batch, i, j)` of
 * the `[...batch, m, n]` output reads element `offset/4 + Σ batch_d·batchStrides[d] +
 * i·rowStride + j·colStride` of its array. Strides are in float32 elements, 0 meaning broadcast.
 */
export interface NativeBroadcastOperand {
  /** Byte offset of element 0 in its array. */
  offset: number;
  /** Stride per output batch dim. */
  batchStrides: number[];
  /** Stride per output row. */
  rowStride: number;
  /** Stride per output column. */
  colStride: number;
}

/** Arguments of the addon's `matmulArrays` (see native/matmul.h); offsets in bytes, strides in floats. */
export interface NativeMatMulSpec {
  /** Rows of each output matrix. */
  m: number;
  /** Columns of each output matrix. */
  n: number;
  /** Inner (summed) dimension. */
  k: number;
  /** A is stored `k × m` and used transposed. */
  transposeA: boolean;
  /** B is stored `n × k` and used transposed. */
  transposeB: boolean;
  /** Batch dims of the output, broadcast already resolved. */
  batchShape: number[];
  /** Byte offset of A in its array. */
  aOffset: number;
  /** A's stride per output batch dim (0 where A broadcasts). */
  aBatchStrides: number[];
  /** Byte offset of B in its array. */
  bOffset: number;
  /** B's stride per output batch dim (0 where B broadcasts). */
  bBatchStrides: number[];
  /** Byte offset of the contiguous output in its array. */
  outOffset: number;
  /** Fused activation code (tfjs-backend-wasm's `FusableActivation` numbering); 0 = linear. */
  activation?: number;
  /** Slope of `leakyrelu`. */
  alpha?: number;
  /** Bias added before the activation (its data is the `bias` argument). */
  bias?: NativeBroadcastOperand;
  /** PReLU weights, activation 3 (its data is the `prelu` argument). */
  prelu?: NativeBroadcastOperand;
}

/**
 * One pass of Pillow's 8-bit bicubic resample (axis 0 horizontal, 1 vertical) with the caller's
 * 22-bit fixed-point taps, bit-exact with Resample.c (see native/kernels.h).
 */
export type NativeResampleU8 = (
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outSize: number,
  axis: 0 | 1,
  start: Int32Array,
  count: Int32Array,
  weight: Int32Array,
  ksize: number,
  out: Uint8Array,
) => void;

/**
 * Pillow's `im.crop(box).resize((outWidth, outHeight), Image.BICUBIC)` on 8-bit pixels in one call:
 * both passes read the crop box in place (no copy of the crop), the intermediate image lives in a
 * per-thread buffer reused between calls, and the kernels use AVX2 when the CPU has it (same bytes
 * as the scalar kernels). Taps per axis are those of {@link NativeResampleU8} for the crop's size; a
 * pass whose size does not change is skipped, as Pillow skips it. `flags` bit 0 forces the portable
 * scalar kernels (for tests).
 */
export type NativeResizeCropU8 = (
  src: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  channels: number,
  left: number,
  top: number,
  cropWidth: number,
  cropHeight: number,
  outWidth: number,
  outHeight: number,
  xStart: Int32Array,
  xCount: Int32Array,
  xWeight: Int32Array,
  xKsize: number,
  yStart: Int32Array,
  yCount: Int32Array,
  yWeight: Int32Array,
  yKsize: number,
  out: Uint8Array,
  flags: number,
) => void;

/** Typed arrays the addon's copy kernel accepts (4-byte or 1-byte elements). */
export type NativeCopyArray = Float32Array | Int32Array | Uint32Array | Uint8Array | Int8Array | Uint8ClampedArray;

/** The functions of the compiled addon (`build/Release/llm2clip_blas.node`, see native/kernels.h). */
export interface NativeAddon {
  /** Interface version of the build; must equal {@link NATIVE_ABI_VERSION}. */
  readonly abiVersion: number;
  /** `openblas_get_config()`: version, target core, thread limit. */
  readonly blasConfig: string;
  /** One pass of Pillow's 8-bit bicubic resample (see {@link NativeResampleU8}). */
  resampleU8: NativeResampleU8;
  /** Pillow's crop + resize in one call (see {@link NativeResizeCropU8}). */
  resizeCropU8: NativeResizeCropU8;
  /** `cblas_sgemm` per batch on float32 arrays, plus the fused epilogue; throws on bad extents. */
  matmulArrays(a: Float32Array, b: Float32Array, out: Float32Array, spec: NativeMatMulSpec, bias?: Float32Array, prelu?: Float32Array): void;
  /** `out = op(a, b)` (a `BINARY_OPS` code of native-ops.ts), operands read through per-output-dim strides. */
  binary(
    op: number,
    a: Float32Array,
    aStart: number,
    aStrides: number[],
    b: Float32Array,
    bStart: number,
    bStrides: number[],
    out: Float32Array | Uint8Array,
    outShape: number[],
  ): void;
  /** `out = op(x)` (a `UNARY_OPS` code) with parameters `alpha`, `beta`. */
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number, beta: number): void;
  /** `out = cond ? t : e`, all the same length. */
  select(cond: Uint8Array, t: Float32Array, e: Float32Array, out: Float32Array): void;
  /** Reduces `[outer, size, inner]` over `size` (a `REDUCE_OPS` code) into `[outer, inner]`. */
  reduce(op: number, x: Float32Array, out: Float32Array, outer: number, size: number, inner: number): void;
  /** Softmax over the last dim of a `[rows, cols]` array. */
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** Copies `shape` elements from `src` to `dst`, each addressed by a start and per-dim strides. */
  copyStrided(
    src: NativeCopyArray,
    srcStart: number,
    srcStrides: number[],
    dst: NativeCopyArray,
    dstStart: number,
    dstStrides: number[],
    shape: number[],
  ): void;
  /** `out[o, i, :] = x[o, indices[i], :]` for `x` of `[outer, dim, inner]`; throws on an index out of range. */
  gather(x: Float32Array | Int32Array, outer: number, dim: number, inner: number, indices: Int32Array, out: Float32Array | Int32Array): void;
  /** `out[s, :] = Σ x[i, :]` over `ids[i] = s`; ids outside `[0, numSegments)` are dropped. */
  segmentSum(x: Float32Array, ids: Int32Array, numSegments: number, inner: number, out: Float32Array): void;
  /** `openblas_set_num_threads(threads)`. */
  setNumThreads(threads: number): void;
  /** `openblas_get_num_threads()`. */
  getNumThreads(): number;
  /** Threads of the addon's own kernels (element-wise, reductions, layout), the caller included. */
  setPoolThreads(threads: number): void;
  /** See {@link NativeAddon.setPoolThreads}. */
  getPoolThreads(): number;
}

/** Whether the native OpenBLAS addon loaded, from where, and if not, why. */
export interface NativeAddonStatus {
  /** True when the addon loaded and has the expected interface. */
  available: boolean;
  /** The file that was (or would have been) loaded. */
  path: string;
  /** OpenBLAS build description, when loaded. */
  blasConfig?: string;
  /** Why it is unavailable, when it is. */
  reason?: string;
}

const defaultAddonPath = fileURLToPath(new URL('../../build/Release/llm2clip_blas.node', import.meta.url));

const ADDON_FUNCTIONS = [
  'matmulArrays',
  'binary',
  'unary',
  'select',
  'reduce',
  'softmax',
  'copyStrided',
  'gather',
  'segmentSum',
  'setNumThreads',
  'getNumThreads',
  'setPoolThreads',
  'getPoolThreads',
] as const;

let loaded: { status: NativeAddonStatus; addon?: NativeAddon } | undefined;

function describe(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] : String(error);
}

function load(): { status: NativeAddonStatus; addon?: NativeAddon } {
  const override = process.env[NATIVE_PATH_ENV];
  const path = override !== undefined && override !== '' ? resolve(override) : defaultAddonPath;
  if (!existsSync(path)) {
    return {
      status: {
        available: false,
        path,
        reason:
          override !== undefined && override !== ''
            ? `${NATIVE_PATH_ENV} points at ${path}, which does not exist`
            : `the native addon was not built (no ${path}); run \`pnpm --filter @llm2clip/tensor run build:native\` to see why`,
      },
    };
  }
  let candidate: Partial<NativeAddon>;
  try {
    candidate = createRequire(import.meta.url)(path) as Partial<NativeAddon>;
  } catch (error) {
    return { status: { available: false, path, reason: `loading ${path} failed: ${describe(error)}` } };
  }
  if (candidate.abiVersion !== NATIVE_ABI_VERSION) {
    return {
      status: {
        available: false,
        path,
        reason: `${path} has interface version ${String(candidate.abiVersion)}, expected ${NATIVE_ABI_VERSION}; rebuild it with \`pnpm --filter @llm2clip/tensor run build:native\``,
      },
    };
  }
  const addon = candidate as NativeAddon;
  for (const name of ADDON_FUNCTIONS) {
    if (typeof addon[name] !== 'function') {
      return { status: { available: false, path, reason: `${path} lacks the function ${name}` } };
    }
  }
  return { status: { available: true, path, blasConfig: addon.blasConfig }, addon };
}

/**
 * The native addon, loaded once (from {@link NATIVE_PATH_ENV} when set, else from this
 * package's `build/Release`), or `undefined` when it is unavailable — see
 * {@link nativeAddonStatus} for why.
 */
export function loadNativeAddon(): NativeAddon | undefined {
  loaded ??= load();
  return loaded.addon;
}

/**
 * Whether the native OpenBLAS addon of `@llm2clip/tensor` is usable here, and why not when it
 * is not (never built, failed to load, stale build). Loads the addon on first call.
 */
export function nativeAddonStatus(): NativeAddonStatus {
  loaded ??= load();
  return { ...loaded.status };
}

import {
  AddN,
  BatchMatMul,
  Concat,
  GatherV2,
  PadV2,
  Select,
  Slice,
  Softmax,
  SplitV,
  Tile,
  Transpose,
  UnsortedSegmentSum,
  _FusedMatMul,
  backend_util,
  slice_util,
  util,
  type BatchMatMulAttrs,
  type DataType,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
  type _FusedMatMulAttrs,
} from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { Llm2ClipError } from '@llm2clip/core';
import { broadcastStrides, planMatMul } from './matmul-plan.js';
import type { NativeAddon, NativeMatMulSpec } from './native-addon.js';
import type { TensorArray } from './buffer-pool.js';
import { BINARY_OPS, COMPARISON_OPS, REDUCE_OPS, UNARY_OPS } from './native-ops.js';

/** The tfjs backend name of the native backend. */
export const NATIVE_TF_BACKEND = 'native';

/** Fused activation codes of the addon: tfjs-backend-wasm's `FusableActivation` numbering. */
export const FUSED_ACTIVATION_CODES: Readonly<Record<string, number>> = {
  linear: 0,
  relu: 1,
  relu6: 2,
  prelu: 3,
  leakyrelu: 4,
  sigmoid: 5,
  elu: 6,
};

/** Looks up the stock tfjs-backend-cpu kernel a native kernel falls back to. */
export type FallbackLookup = (kernelName: string) => KernelFunc | undefined;

type Values = ReturnType<MathBackendCPU['readSync']>;

function backendOf(backend: unknown): MathBackendCPU {
  return backend as MathBackendCPU;
}

function valuesOf(backend: MathBackendCPU, tensor: TensorInfo): Values | undefined {
  return backend.data.get(tensor.dataId)?.values as Values | undefined;
}

/** The tensor's data when it is float32 held in a Float32Array, else undefined. */
function float32(backend: MathBackendCPU, tensor: TensorInfo): Float32Array | undefined {
  if (tensor.dtype !== 'float32') return undefined;
  const values = valuesOf(backend, tensor);
  return values instanceof Float32Array ? values : undefined;
}

/** The tensor's data when its typed array can be copied by `copyStrided` (4- or 1-byte elements). */
function copyable(backend: MathBackendCPU, tensor: TensorInfo): TensorArray | undefined {
  if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32' && tensor.dtype !== 'bool') return undefined;
  const values = valuesOf(backend, tensor);
  if (values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array) return values;
  return undefined;
}

/** A backend that recycles output buffers (the native backend, see buffer-pool.ts). */
interface PooledBackend {
  allocateValues?(dtype: DataType, size: number): TensorArray;
}

/**
 * A typed array for a kernel output that the kernel overwrites completely: recycled from the
 * backend's buffer pool when it has one, never zero-filled first.
 */
function allocate(backend: MathBackendCPU, dtype: DataType, size: number): TensorArray {
  const pooled = (backend as unknown as PooledBackend).allocateValues?.(dtype, size);
  if (pooled !== undefined) return pooled;
  if (dtype === 'float32') return new Float32Array(size);
  if (dtype === 'int32') return new Int32Array(size);
  return new Uint8Array(size);
}

function allocateFloat32(backend: MathBackendCPU, size: number): Float32Array {
  return allocate(backend, 'float32', size) as Float32Array;
}

/** Row-major strides of `shape` in elements (the last is 1). */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

/** Strides that read a contiguous tensor of `shape` broadcast (NumPy rules) onto `outShape`. */
export function broadcastReadStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const own = contiguousStrides(shape);
  const strides = new Array<number>(outShape.length).fill(0);
  for (let i = 1; i <= shape.length; i++) {
    const dim = shape[shape.length - i];
    strides[outShape.length - i] = dim === 1 ? 0 : own[shape.length - i];
  }
  return strides;
}

function fallbackOrThrow(fallback: FallbackLookup, kernelName: string, reason: string): KernelFunc {
  const stock = fallback(kernelName);
  if (stock === undefined) throw new Llm2ClipError('E_BACKEND', `${kernelName} on the native backend: ${reason}, and no cpu kernel to fall back to`);
  return stock;
}

function binaryKernel(addon: NativeAddon, fallback: FallbackLookup, kernelName: keyof typeof BINARY_OPS): KernelConfig {
  const op = BINARY_OPS[kernelName];
  const comparison = COMPARISON_OPS.has(kernelName);
  const kernelFunc: KernelFunc = (params) => {
    const { a, b } = params.inputs as { a: TensorInfo; b: TensorInfo };
    const backend = backendOf(params.backend);
    const av = float32(backend, a);
    const bv = float32(backend, b);
    if (av === undefined || bv === undefined) return fallbackOrThrow(fallback, kernelName, `dtype ${a.dtype}`)(params);
    const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const size = util.sizeFromShape(outShape);
    const out = allocate(backend, comparison ? 'bool' : 'float32', size) as Float32Array | Uint8Array;
    if (size > 0) {
      addon.binary(op, av, 0, broadcastReadStrides(a.shape, outShape), bv, 0, broadcastReadStrides(b.shape, outShape), out, outShape);
    }
    return backend.makeTensorInfo(outShape, comparison ? 'bool' : 'float32', out);
  };
  return { kernelName, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

function unaryKernel(addon: NativeAddon, fallback: FallbackLookup, kernelName: keyof typeof UNARY_OPS): KernelConfig {
  const op = UNARY_OPS[kernelName];
  const kernelFunc: KernelFunc = (params) => {
    const { x } = params.inputs as { x: TensorInfo };
    const backend = backendOf(params.backend);
    const xv = float32(backend, x);
    if (xv === undefined) return fallbackOrThrow(fallback, kernelName, `dtype ${x.dtype}`)(params);
    const attrs = (params.attrs ?? {}) as Record<string, number | undefined>;
    let alpha = 0;
    let beta = 0;
    if (kernelName === 'LeakyRelu' || kernelName === 'Step') alpha = attrs.alpha ?? (kernelName === 'LeakyRelu' ? 0.2 : 0);
    if (kernelName === 'ClipByValue') {
      alpha = attrs.clipValueMin ?? -Infinity;
      beta = attrs.clipValueMax ?? Infinity;
    }
    const out = allocateFloat32(backend, xv.length);
    addon.unary(op, xv, out, alpha, beta);
    return backend.makeTensorInfo(x.shape, 'float32', out);
  };
  return { kernelName, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

/** Copies `x` (values `xv`) into a new tensor of `x.shape` permuted by `perm`. */
function transposeValues(addon: NativeAddon, backend: MathBackendCPU, xv: TensorArray, shape: readonly number[], perm: readonly number[], dtype: DataType): TensorArray {
  const strides = contiguousStrides(shape);
  const outShape = perm.map((p) => shape[p]);
  const out = allocate(backend, dtype, util.sizeFromShape(outShape));
  if (out.length > 0) addon.copyStrided(xv, 0, perm.map((p) => strides[p]), out, 0, contiguousStrides(outShape), outShape);
  return out;
}

const REDUCE_AXIS_ATTR: Record<keyof typeof REDUCE_OPS, string> = {
  Sum: 'axis',
  Mean: 'axis',
  Max: 'reductionIndices',
  Min: 'axis',
  Prod: 'axis',
};

function reduceKernel(addon: NativeAddon, fallback: FallbackLookup, kernelName: keyof typeof REDUCE_OPS): KernelConfig {
  const op = REDUCE_OPS[kernelName];
  const kernelFunc: KernelFunc = (params) => {
    const { x } = params.inputs as { x: TensorInfo };
    const backend = backendOf(params.backend);
    let xv = float32(backend, x);
    if (xv === undefined) return fallbackOrThrow(fallback, kernelName, `dtype ${x.dtype}`)(params);
    const attrs = (params.attrs ?? {}) as Record<string, unknown>;
    const keepDims = attrs.keepDims === true;
    const rank = x.shape.length;
    const axes = [...new Set(util.parseAxisParam(attrs[REDUCE_AXIS_ATTR[kernelName]] as number | number[], x.shape))].sort((p, q) => p - q);
    const kept = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
    const outShape = keepDims ? x.shape.map((dim, d) => (axes.includes(d) ? 1 : dim)) : kept.map((d) => x.shape[d]);
    const size = axes.reduce((product, d) => product * x.shape[d], 1);
    let outer: number;
    let inner: number;
    const contiguous = axes.length === 0 || axes[axes.length - 1] - axes[0] === axes.length - 1;
    if (contiguous) {
      const first = axes.length === 0 ? rank : axes[0];
      const last = axes.length === 0 ? rank - 1 : axes[axes.length - 1];
      outer = util.sizeFromShape(x.shape.slice(0, first));
      inner = util.sizeFromShape(x.shape.slice(last + 1));
    } else {
      // Move the reduced axes last, then reduce rows.
      xv = transposeValues(addon, backend, xv, x.shape, [...kept, ...axes], 'float32') as Float32Array;
      outer = kept.reduce((product, d) => product * x.shape[d], 1);
      inner = 1;
    }
    const out = allocateFloat32(backend, outer * inner);
    addon.reduce(op, xv, out, outer, size, inner);
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
  return { kernelName, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

function softmaxKernel(addon: NativeAddon, fallback: FallbackLookup): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const { logits } = params.inputs as { logits: TensorInfo };
    const backend = backendOf(params.backend);
    const xv = float32(backend, logits);
    const rank = logits.shape.length;
    const dim = (params.attrs as { dim?: number } | undefined)?.dim ?? -1;
    if (xv === undefined || rank === 0 || (dim !== -1 && dim !== rank - 1)) {
      return fallbackOrThrow(fallback, Softmax, `dtype ${logits.dtype}, dim ${dim}`)(params);
    }
    const cols = logits.shape[rank - 1];
    const out = allocateFloat32(backend, xv.length);
    if (out.length > 0) addon.softmax(xv, out, out.length / cols, cols);
    return backend.makeTensorInfo(logits.shape, 'float32', out);
  };
  return { kernelName: Softmax, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

function transposeKernel(addon: NativeAddon, fallback: FallbackLookup): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const { x } = params.inputs as { x: TensorInfo };
    const backend = backendOf(params.backend);
    const xv = copyable(backend, x);
    if (xv === undefined) return fallbackOrThrow(fallback, Transpose, `dtype ${x.dtype}`)(params);
    const { perm } = params.attrs as { perm: number[] };
    const out = transposeValues(addon, backend, xv, x.shape, perm, x.dtype);
    return backend.makeTensorInfo(
      perm.map((p) => x.shape[p]),
      x.dtype,
      out,
    );
  };
  return { kernelName: Transpose, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

function sliceValues(addon: NativeAddon, backend: MathBackendCPU, x: TensorInfo, xv: TensorArray, begin: number[], size: number[]): TensorInfo {
  const strides = contiguousStrides(x.shape);
  const start = begin.reduce((offset, b, d) => offset + b * strides[d], 0);
  const count = util.sizeFromShape(size);
  let out: TensorArray;
  if (count === 0) {
    out = allocate(backend, x.dtype, 0);
  } else if (slice_util.isSliceContinous(x.shape, begin, size)) {
    // One contiguous run: the typed array's own memcpy (a copy, not a view, so the slice does
    // not keep the whole source alive).
    out = allocate(backend, x.dtype, count);
    out.set(xv.subarray(start, start + count));
  } else {
    out = allocate(backend, x.dtype, count);
    addon.copyStrided(xv, start, strides, out, 0, contiguousStrides(size), size);
  }
  return backend.makeTensorInfo(size, x.dtype, out);
}

function sliceKernel(addon: NativeAddon, fallback: FallbackLookup): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const { x } = params.inputs as { x: TensorInfo };
    const backend = backendOf(params.backend);
    const xv = copyable(backend, x);
    if (xv === undefined) return fallbackOrThrow(fallback, Slice, `dtype ${x.dtype}`)(params);
    const attrs = params.attrs as { begin: number | number[]; size: number | number[] };
    const [begin, size] = slice_util.parseSliceParams(x, attrs.begin, attrs.size);
    slice_util.assertParamsValid(x, begin, size);
    return sliceValues(addon, backend, x, xv, begin, size);
  };
  return { kernelName: Slice, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

function splitKernel(addon: NativeAddon, fallback: FallbackLookup): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const { x } = params.inputs as { x: TensorInfo };
    const backend = backendOf(params.backend);
    const xv = copyable(backend, x);
    if (xv === undefined) return fallbackOrThrow(fallback, SplitV, `dtype ${x.dtype}`)(params);
    const attrs = params.attrs as { numOrSizeSplits: number | number[]; axis: number };
    const axis = util.parseAxisParam(attrs.axis, x.shape)[0];
    const sizes = backend_util.prepareSplitSize(x, attrs.numOrSizeSplits, axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[axis] = s;
      const result = sliceValues(addon, backend, x, xv, [...begin], size);
      begin[axis] += s;
      return result;
    });
  };
  return { kernelName: SplitV, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

function concatKernel(addon: NativeAddon, fallback: FallbackLookup): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const inputs = params.inputs as unknown as TensorInfo[];
    const backend = backendOf(params.backend);
    const dtype = inputs[0]?.dtype;
    const values = inputs.map((t) => (t.dtype === dtype ? copyable(backend, t) : undefined));
    if (inputs.length === 0 || values.some((v) => v === undefined)) {
      return fallbackOrThrow(fallback, Concat, `dtype ${String(dtype)}`)(params);
    }
    const axis = util.parseAxisParam((params.attrs as { axis: number }).axis, inputs[0].shape)[0];
    const shapes = inputs.map((t) => t.shape);
    backend_util.assertParamsConsistent(shapes, axis);
    const outShape = backend_util.computeOutShape(shapes, axis);
    const out = allocate(backend, dtype, util.sizeFromShape(outShape));
    const outStrides = contiguousStrides(outShape);
    let offset = 0;
    inputs.forEach((t, i) => {
      if (util.sizeFromShape(t.shape) > 0) {
        addon.copyStrided(values[i] as TensorArray, 0, contiguousStrides(t.shape), out, offset * outStrides[axis], outStrides, t.shape);
      }
      offset += t.shape[axis];
    });
    return backend.makeTensorInfo(outShape, dtype, out);
  };
  return { kernelName: Concat, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

function tileKernel(addon: NativeAddon, fallback: FallbackLookup): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const { x } = params.inputs as { x: TensorInfo };
    const backend = backendOf(params.backend);
    const xv = copyable(backend, x);
    const { reps } = params.attrs as { reps: number[] };
    if (xv === undefined || reps.length !== x.shape.length) return fallbackOrThrow(fallback, Tile, `dtype ${x.dtype}`)(params);
    const outShape = x.shape.map((dim, d) => dim * reps[d]);
    const out = allocate(backend, x.dtype, util.sizeFromShape(outShape));
    if (out.length > 0) {
      // out viewed as [reps0, dim0, reps1, dim1, ...]: the source repeats along every reps dim.
      const strides = contiguousStrides(x.shape);
      const space = x.shape.flatMap((dim, d) => [reps[d], dim]);
      const srcStrides = strides.flatMap((s) => [0, s]);
      addon.copyStrided(xv, 0, srcStrides, out, 0, contiguousStrides(space), space);
    }
    return backend.makeTensorInfo(outShape, x.dtype, out);
  };
  return { kernelName: Tile, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

function padKernel(addon: NativeAddon, fallback: FallbackLookup): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const { x } = params.inputs as { x: TensorInfo };
    const backend = backendOf(params.backend);
    const xv = copyable(backend, x);
    const { paddings, constantValue } = params.attrs as unknown as { paddings: Array<[number, number]>; constantValue: number };
    if (xv === undefined || paddings.length !== x.shape.length) return fallbackOrThrow(fallback, PadV2, `dtype ${x.dtype}`)(params);
    const outShape = x.shape.map((dim, d) => paddings[d][0] + dim + paddings[d][1]);
    const out = allocate(backend, x.dtype, util.sizeFromShape(outShape));
    out.fill(x.dtype === 'bool' ? (constantValue ? 1 : 0) : constantValue);
    if (util.sizeFromShape(x.shape) > 0) {
      const outStrides = contiguousStrides(outShape);
      const start = paddings.reduce((offset, [before], d) => offset + before * outStrides[d], 0);
      addon.copyStrided(xv, 0, contiguousStrides(x.shape), out, start, outStrides, x.shape);
    }
    return backend.makeTensorInfo(outShape, x.dtype, out);
  };
  return { kernelName: PadV2, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

function gatherKernel(addon: NativeAddon, fallback: FallbackLookup): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const { x, indices } = params.inputs as { x: TensorInfo; indices: TensorInfo };
    const backend = backendOf(params.backend);
    const attrs = params.attrs as { axis: number; batchDims?: number };
    const xv = valuesOf(backend, x);
    const iv = valuesOf(backend, indices);
    const typed = (x.dtype === 'float32' && xv instanceof Float32Array) || (x.dtype === 'int32' && xv instanceof Int32Array);
    if (!typed || !(iv instanceof Int32Array) || (attrs.batchDims ?? 0) !== 0) {
      return fallbackOrThrow(fallback, GatherV2, `dtype ${x.dtype}/${indices.dtype}, batchDims ${attrs.batchDims ?? 0}`)(params);
    }
    const axis = util.parseAxisParam(attrs.axis, x.shape)[0];
    const outer = util.sizeFromShape(x.shape.slice(0, axis));
    const dim = x.shape[axis];
    const inner = util.sizeFromShape(x.shape.slice(axis + 1));
    const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
    const out = allocate(backend, x.dtype, util.sizeFromShape(outShape)) as Float32Array | Int32Array;
    try {
      addon.gather(xv, outer, dim, inner, iv, out);
    } catch (error) {
      throw new Llm2ClipError('E_SHAPE', `GatherV2: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    return backend.makeTensorInfo(outShape, x.dtype, out);
  };
  return { kernelName: GatherV2, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

function segmentSumKernel(addon: NativeAddon, fallback: FallbackLookup): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const { x, segmentIds } = params.inputs as { x: TensorInfo; segmentIds: TensorInfo };
    const backend = backendOf(params.backend);
    const { numSegments } = params.attrs as { numSegments: number };
    const xv = float32(backend, x);
    const ids = valuesOf(backend, segmentIds);
    const idsRank = segmentIds.shape.length;
    if (xv === undefined || !(ids instanceof Int32Array) || !util.arraysEqual(x.shape.slice(0, idsRank), segmentIds.shape)) {
      return fallbackOrThrow(fallback, UnsortedSegmentSum, `dtype ${x.dtype}/${segmentIds.dtype}`)(params);
    }
    if (!Number.isInteger(numSegments) || numSegments < 0) {
      throw new Llm2ClipError('E_SHAPE', `UnsortedSegmentSum numSegments must be a non-negative integer, got ${numSegments}`);
    }
    const rowShape = x.shape.slice(idsRank);
    const inner = util.sizeFromShape(rowShape);
    const out = allocateFloat32(backend, numSegments * inner);
    addon.segmentSum(xv, ids, numSegments, inner, out);
    return backend.makeTensorInfo([numSegments, ...rowShape], 'float32', out);
  };
  return { kernelName: UnsortedSegmentSum, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

function selectKernel(addon: NativeAddon, fallback: FallbackLookup): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const { condition, t, e } = params.inputs as { condition: TensorInfo; t: TensorInfo; e: TensorInfo };
    const backend = backendOf(params.backend);
    const cv = valuesOf(backend, condition);
    const tv = float32(backend, t);
    const ev = float32(backend, e);
    if (
      !(cv instanceof Uint8Array) ||
      condition.dtype !== 'bool' ||
      tv === undefined ||
      ev === undefined ||
      !util.arraysEqual(condition.shape, t.shape) ||
      !util.arraysEqual(t.shape, e.shape)
    ) {
      return fallbackOrThrow(fallback, Select, 'operands other than same-shape bool/float32')(params);
    }
    const out = allocateFloat32(backend, tv.length);
    addon.select(cv, tv, ev, out);
    return backend.makeTensorInfo(t.shape, 'float32', out);
  };
  return { kernelName: Select, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

function addNKernel(addon: NativeAddon, fallback: FallbackLookup): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const inputs = params.inputs as unknown as TensorInfo[];
    const backend = backendOf(params.backend);
    const values = inputs.map((t) => float32(backend, t));
    if (inputs.length === 0 || values.some((v) => v === undefined) || inputs.some((t) => !util.arraysEqual(t.shape, inputs[0].shape))) {
      return fallbackOrThrow(fallback, AddN, 'operands other than same-shape float32')(params);
    }
    const shape = inputs[0].shape;
    const out = allocateFloat32(backend, util.sizeFromShape(shape));
    const strides = contiguousStrides(shape);
    if (inputs.length === 1) out.set(values[0] as Float32Array);
    else if (out.length > 0) {
      addon.binary(BINARY_OPS.Add, values[0] as Float32Array, 0, strides, values[1] as Float32Array, 0, strides, out, shape);
      for (let i = 2; i < values.length; i++) addon.binary(BINARY_OPS.Add, out, 0, strides, values[i] as Float32Array, 0, strides, out, shape);
    }
    return backend.makeTensorInfo(shape, 'float32', out);
  };
  return { kernelName: AddN, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

interface Epilogue {
  activation: number;
  alpha: number;
  bias?: TensorInfo;
  prelu?: TensorInfo;
}

function runMatMul(addon: NativeAddon, backend: MathBackendCPU, a: Float32Array, b: Float32Array, aInfo: TensorInfo, bInfo: TensorInfo, transposeA: boolean, transposeB: boolean, epilogue: Epilogue): TensorInfo {
  const plan = planMatMul(aInfo.shape, bInfo.shape, transposeA, transposeB);
  // Not zero-filled: sgemm with beta = 0 overwrites every element (and k = 0 is filled with zeros).
  const out = allocateFloat32(backend, util.sizeFromShape(plan.outShape));
  if (out.length === 0) return backend.makeTensorInfo(plan.outShape, 'float32', out);
  const spec: NativeMatMulSpec = {
    m: plan.m,
    n: plan.n,
    k: plan.k,
    transposeA,
    transposeB,
    batchShape: plan.batchShape,
    aOffset: 0,
    aBatchStrides: plan.aBatchStrides,
    bOffset: 0,
    bBatchStrides: plan.bBatchStrides,
    outOffset: 0,
    activation: epilogue.activation,
    alpha: epilogue.alpha,
  };
  const operand = (tensor: TensorInfo | undefined, what: string): Float32Array | undefined => {
    if (tensor === undefined) return undefined;
    const values = float32(backend, tensor);
    if (values === undefined) throw new Llm2ClipError('E_BACKEND', `_FusedMatMul ${what} must be float32, got ${tensor.dtype}`);
    return values;
  };
  const biasValues = operand(epilogue.bias, 'bias');
  const preluValues = operand(epilogue.prelu, 'PReLU weights');
  if (epilogue.bias !== undefined) spec.bias = { offset: 0, ...broadcastStrides(epilogue.bias.shape, plan.outShape, 'bias') };
  if (epilogue.prelu !== undefined) spec.prelu = { offset: 0, ...broadcastStrides(epilogue.prelu.shape, plan.outShape, 'PReLU weights') };
  addon.matmulArrays(a, b, out, spec, biasValues, preluValues);
  return backend.makeTensorInfo(plan.outShape, 'float32', out);
}

function batchMatMulKernel(addon: NativeAddon, fallback: FallbackLookup): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const { a, b } = params.inputs as { a: TensorInfo; b: TensorInfo };
    const backend = backendOf(params.backend);
    const av = float32(backend, a);
    const bv = float32(backend, b);
    if (av === undefined || bv === undefined) return fallbackOrThrow(fallback, BatchMatMul, `dtype ${a.dtype}/${b.dtype}`)(params);
    const { transposeA, transposeB } = (params.attrs ?? {}) as unknown as BatchMatMulAttrs;
    return runMatMul(addon, backend, av, bv, a, b, transposeA === true, transposeB === true, { activation: 0, alpha: 0 });
  };
  return { kernelName: BatchMatMul, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

function fusedMatMulKernel(addon: NativeAddon, fallback: FallbackLookup): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const { a, b, bias, preluActivationWeights } = params.inputs as {
      a: TensorInfo;
      b: TensorInfo;
      bias?: TensorInfo;
      preluActivationWeights?: TensorInfo;
    };
    const backend = backendOf(params.backend);
    const av = float32(backend, a);
    const bv = float32(backend, b);
    if (av === undefined || bv === undefined) return fallbackOrThrow(fallback, _FusedMatMul, `dtype ${a.dtype}/${b.dtype}`)(params);
    const attrs = (params.attrs ?? {}) as NamedAttrMap & Partial<_FusedMatMulAttrs>;
    const activationName = attrs.activation ?? 'linear';
    const activation = FUSED_ACTIVATION_CODES[activationName];
    if (activation === undefined) {
      throw new Llm2ClipError('E_BACKEND', `_FusedMatMul activation '${String(activationName)}' is not supported by the native backend`);
    }
    if (activationName === 'prelu' && preluActivationWeights == null) {
      throw new Llm2ClipError('E_BACKEND', '_FusedMatMul with activation prelu needs preluActivationWeights');
    }
    return runMatMul(addon, backend, av, bv, a, b, attrs.transposeA === true, attrs.transposeB === true, {
      activation,
      alpha: attrs.leakyreluAlpha ?? 0,
      bias: bias ?? undefined,
      prelu: activationName === 'prelu' ? (preluActivationWeights ?? undefined) : undefined,
    });
  };
  return { kernelName: _FusedMatMul, backendName: NATIVE_TF_BACKEND, kernelFunc };
}

/**
 * The C++ kernels of the `native` backend, for tfjs's kernel registry. Each handles float32
 * (layout kernels also int32 and bool) held in plain typed arrays and hands anything else to
 * the stock tfjs-backend-cpu kernel that `fallback` returns.
 */
export function nativeKernelConfigs(addon: NativeAddon, fallback: FallbackLookup): KernelConfig[] {
  return [
    batchMatMulKernel(addon, fallback),
    fusedMatMulKernel(addon, fallback),
    ...(Object.keys(BINARY_OPS) as (keyof typeof BINARY_OPS)[]).map((name) => binaryKernel(addon, fallback, name)),
    ...(Object.keys(UNARY_OPS) as (keyof typeof UNARY_OPS)[]).map((name) => unaryKernel(addon, fallback, name)),
    ...(Object.keys(REDUCE_OPS) as (keyof typeof REDUCE_OPS)[]).map((name) => reduceKernel(addon, fallback, name)),
    softmaxKernel(addon, fallback),
    transposeKernel(addon, fallback),
    sliceKernel(addon, fallback),
    splitKernel(addon, fallback),
    concatKernel(addon, fallback),
    tileKernel(addon, fallback),
    padKernel(addon, fallback),
    gatherKernel(addon, fallback),
    segmentSumKernel(addon, fallback),
    selectKernel(addon, fallback),
    addNKernel(addon, fallback),
  ];
}

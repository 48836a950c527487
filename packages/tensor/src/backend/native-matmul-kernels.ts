import {
  BatchMatMul,
  _FusedMatMul,
  util,
  type BatchMatMulAttrs,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
  type _FusedMatMulAttrs,
} from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';
import { broadcastStrides, planMatMul } from './matmul-plan.js';
import type { NativeAddon, NativeBroadcastOperand, NativeMatMulSpec } from './native-addon.js';
import { asWasmBackend, heapBuffer, heapOffset, type WasmBackendInternals } from './wasm-heap.js';

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

interface Epilogue {
  activation: number;
  alpha: number;
  bias?: TensorInfo;
  prelu?: TensorInfo;
}

function broadcastOperand(
  backend: WasmBackendInternals,
  tensor: TensorInfo,
  outShape: number[],
  what: string,
): NativeBroadcastOperand {
  if (tensor.dtype !== 'float32') {
    throw new Llm2ClipError('E_BACKEND', `_FusedMatMul ${what} must be float32, got ${tensor.dtype}`);
  }
  return { offset: heapOffset(backend, tensor), ...broadcastStrides(tensor.shape, outShape, what) };
}

/**
 * Runs one (batched, broadcast, optionally fused) matrix product through OpenBLAS directly on
 * the wasm heap and returns the new output tensor (owned by the engine, as kernel outputs are).
 */
function runNativeMatMul(
  addon: NativeAddon,
  backend: WasmBackendInternals,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  epilogue: Epilogue,
): TensorInfo {
  const plan = planMatMul(a.shape, b.shape, transposeA, transposeB);
  const out = backend.makeOutput(plan.outShape, 'float32');
  if (util.sizeFromShape(plan.outShape) === 0) return out;
  try {
    const spec: NativeMatMulSpec = {
      m: plan.m,
      n: plan.n,
      k: plan.k,
      transposeA,
      transposeB,
      batchShape: plan.batchShape,
      aOffset: heapOffset(backend, a),
      aBatchStrides: plan.aBatchStrides,
      bOffset: heapOffset(backend, b),
      bBatchStrides: plan.bBatchStrides,
      outOffset: heapOffset(backend, out),
      activation: epilogue.activation,
      alpha: epilogue.alpha,
    };
    if (epilogue.bias !== undefined) spec.bias = broadcastOperand(backend, epilogue.bias, plan.outShape, 'bias');
    if (epilogue.prelu !== undefined) spec.prelu = broadcastOperand(backend, epilogue.prelu, plan.outShape, 'PReLU weights');
    // Read the buffer only now: makeOutput may have grown the memory and detached the old one.
    addon.matmul(heapBuffer(backend), spec);
  } catch (error) {
    backend.disposeData(out.dataId);
    if (error instanceof Llm2ClipError) throw error;
    throw new Llm2ClipError('E_BACKEND', `native matMul of ${JSON.stringify(a.shape)} and ${JSON.stringify(b.shape)} failed`, {
      cause: error,
    });
  }
  return out;
}

function stockOrThrow(stock: KernelConfig | undefined, kernelName: string, dtype: string): KernelFunc {
  if (stock === undefined) {
    throw new Llm2ClipError('E_BACKEND', `${kernelName} on the native backend supports float32 only, got ${dtype}`);
  }
  return stock.kernelFunc;
}

/**
 * `BatchMatMul` for the tfjs `wasm` backend, computed by OpenBLAS on the wasm heap: every
 * transpose combination, rank ≥ 2, broadcast batch dims, zero-size dims. Non-float32 inputs go
 * to `stock` (the kernel it replaces).
 */
export function nativeBatchMatMulConfig(addon: NativeAddon, stock: KernelConfig | undefined): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const { a, b } = params.inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') {
      return stockOrThrow(stock, BatchMatMul, a.dtype !== 'float32' ? a.dtype : b.dtype)(params);
    }
    const { transposeA, transposeB } = (params.attrs ?? {}) as unknown as BatchMatMulAttrs;
    const backend = asWasmBackend(params.backend, BatchMatMul);
    return runNativeMatMul(addon, backend, a, b, transposeA === true, transposeB === true, { activation: 0, alpha: 0 });
  };
  return { kernelName: BatchMatMul, backendName: 'wasm', kernelFunc };
}

/**
 * `_FusedMatMul` (matMul + bias + activation, what `tf.fused.matMul` runs) for the tfjs `wasm`
 * backend through OpenBLAS, with the bias add and the activation (linear, relu, relu6, elu,
 * sigmoid, leakyrelu, prelu) applied in C++ on the output. Bias and PReLU weights may have any
 * shape that broadcasts onto the output.
 */
export function nativeFusedMatMulConfig(addon: NativeAddon, stock: KernelConfig | undefined): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const { a, b, bias, preluActivationWeights } = params.inputs as {
      a: TensorInfo;
      b: TensorInfo;
      bias?: TensorInfo;
      preluActivationWeights?: TensorInfo;
    };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') {
      return stockOrThrow(stock, _FusedMatMul, a.dtype !== 'float32' ? a.dtype : b.dtype)(params);
    }
    const attrs = (params.attrs ?? {}) as NamedAttrMap & Partial<_FusedMatMulAttrs>;
    const activationName = attrs.activation ?? 'linear';
    const activation = FUSED_ACTIVATION_CODES[activationName];
    if (activation === undefined) {
      throw new Llm2ClipError('E_BACKEND', `_FusedMatMul activation '${String(activationName)}' is not supported by the native backend`);
    }
    if (activationName === 'prelu' && preluActivationWeights == null) {
      throw new Llm2ClipError('E_BACKEND', '_FusedMatMul with activation prelu needs preluActivationWeights');
    }
    const backend = asWasmBackend(params.backend, _FusedMatMul);
    return runNativeMatMul(addon, backend, a, b, attrs.transposeA === true, attrs.transposeB === true, {
      activation,
      alpha: attrs.leakyreluAlpha ?? 0,
      bias: bias ?? undefined,
      prelu: activationName === 'prelu' ? (preluActivationWeights ?? undefined) : undefined,
    });
  };
  return { kernelName: _FusedMatMul, backendName: 'wasm', kernelFunc };
}

import { BatchMatMul, _FusedMatMul, getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './native-addon.js';
import { nativeBatchMatMulConfig, nativeFusedMatMulConfig } from './native-matmul-kernels.js';
import { wasmUnsortedSegmentSumConfig } from './unsorted-segment-sum-kernel.js';

const WASM = 'wasm';
const OVERRIDDEN_KERNELS = [BatchMatMul, _FusedMatMul] as const;

/** The stock wasm kernels replaced by the native ones, kept to restore them. */
const stockKernels = new Map<string, KernelConfig | undefined>();
let nativeActive = false;

function lookup(kernelName: string): KernelConfig | undefined {
  // getKernel returns undefined for a missing kernel despite its declared type.
  return getKernel(kernelName, WASM) as KernelConfig | undefined;
}

function replace(config: KernelConfig): void {
  if (lookup(config.kernelName) !== undefined) unregisterKernel(config.kernelName, WASM);
  registerKernel(config);
}

/**
 * Gives the tfjs `wasm` backend a `UnsortedSegmentSum` kernel (the gradient of `tf.gather`)
 * unless it already has one. Safe to call repeatedly.
 */
export function ensureWasmUnsortedSegmentSum(): void {
  if (lookup(wasmUnsortedSegmentSumConfig.kernelName) === undefined) registerKernel(wasmUnsortedSegmentSumConfig);
}

/**
 * Replaces the `BatchMatMul` and `_FusedMatMul` kernels of the tfjs `wasm` backend (for every
 * caller of tfjs in this process) with OpenBLAS ones from `addon`, and adds
 * `UnsortedSegmentSum`. Call after the wasm backend is initialised. Idempotent.
 */
export function registerNativeKernels(addon: NativeAddon): void {
  ensureWasmUnsortedSegmentSum();
  if (nativeActive) return;
  for (const name of OVERRIDDEN_KERNELS) stockKernels.set(name, lookup(name));
  replace(nativeBatchMatMulConfig(addon, stockKernels.get(BatchMatMul)));
  replace(nativeFusedMatMulConfig(addon, stockKernels.get(_FusedMatMul)));
  nativeActive = true;
}

/**
 * Puts the stock tfjs-backend-wasm matMul kernels back (undoes {@link registerNativeKernels});
 * `UnsortedSegmentSum` stays. `wasmBackend`, when given, re-runs the stock kernels' setup on it
 * so they work even if the backend was initialised while the native kernels were registered.
 */
export function restoreStockKernels(wasmBackend?: object): void {
  if (!nativeActive) return;
  for (const name of OVERRIDDEN_KERNELS) {
    if (lookup(name) !== undefined) unregisterKernel(name, WASM);
    const stock = stockKernels.get(name);
    if (stock !== undefined) {
      registerKernel(stock);
      if (wasmBackend !== undefined) stock.setupFunc?.(wasmBackend);
    }
  }
  nativeActive = false;
}

/** True while the OpenBLAS kernels are registered on the wasm backend. */
export function nativeKernelsActive(): boolean {
  return nativeActive;
}

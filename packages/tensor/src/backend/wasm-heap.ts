import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';

/**
 * The parts of tfjs-backend-wasm's `BackendWasm` (4.22) that kernels outside the package use:
 * every tensor lives at `dataIdMap.get(dataId).memoryOffset` bytes into the module's linear
 * memory, and `makeOutput` allocates a new one there with `_malloc`.
 */
export interface WasmBackendInternals {
  /** The Emscripten module; its heap views are replaced whenever the memory grows. */
  wasm: { HEAPU8: Uint8Array };
  /** Per-tensor bookkeeping, keyed by `dataId`. */
  dataIdMap: { get(dataId: object): { memoryOffset: number; shape: number[]; dtype: DataType } | undefined };
  /** Allocates an output tensor on the heap (may grow the memory and detach old views). */
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  /** Drops one reference to a tensor's data, freeing it at zero. */
  disposeData(dataId: object): boolean;
  /** A typed-array view of a tensor's data on the current heap. */
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Casts the `backend` argument of a wasm kernel, checking that it is the wasm backend. */
export function asWasmBackend(backend: unknown, kernelName: string): WasmBackendInternals {
  const candidate = backend as Partial<WasmBackendInternals> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    candidate.wasm?.HEAPU8 === undefined ||
    candidate.dataIdMap === undefined ||
    typeof candidate.makeOutput !== 'function'
  ) {
    throw new Llm2ClipError('E_BACKEND', `kernel ${kernelName} was called with a backend that is not tfjs-backend-wasm`);
  }
  return candidate as WasmBackendInternals;
}

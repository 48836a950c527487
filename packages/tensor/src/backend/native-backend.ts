import { totalmem } from 'node:os';
import {
  getKernel,
  getKernelsForBackend,
  registerBackend,
  registerKernel,
  unregisterKernel,
  type DataId,
  type DataType,
  type KernelConfig,
  type KernelFunc,
  type backend_util,
} from '@tensorflow/tfjs-core';
import { BufferPool, type TensorArray } from './buffer-pool.js';
import type { NativeAddon } from './native-addon.js';
import { NATIVE_TF_BACKEND, nativeKernelConfigs } from './native-kernels.js';

let registeredKernels: string[] | undefined;

/** Names of the kernels the `native` backend runs in C++ (empty before {@link registerNativeBackend}). */
export function nativeKernelNames(): readonly string[] {
  return registeredKernels ?? [];
}

/**
 * Registers the tfjs backend `native`: a tfjs-backend-cpu `MathBackendCPU` (tensors are plain
 * JS typed arrays outside any wasm heap, so there is no 4 GB limit) whose hot kernels are
 * replaced by the multi-threaded C++ ones of `addon` (matrix products through OpenBLAS,
 * element-wise ops, reductions, softmax, layout ops, gather and its gradient). Every other
 * kernel is tfjs-backend-cpu's own, registered under `native` too. Kernel outputs are recycled
 * through a buffer pool as soon as their last tensor is disposed (readers get copies). Idempotent; needs
 * `@tensorflow/tfjs-backend-cpu` to be importable.
 */
export async function registerNativeBackend(addon: NativeAddon): Promise<void> {
  if (registeredKernels !== undefined) return;
  const { MathBackendCPU } = await import('@tensorflow/tfjs-backend-cpu');
  /**
   * tfjs-backend-cpu's backend with recycled output buffers (see {@link BufferPool}): every
   * stored tensor is counted against its buffer, a buffer goes back to the pool when its last
   * tensor is disposed, and readers (`dataSync`, `data`, moves to another backend) get a copy, so
   * no array handed out can be overwritten by a later kernel.
   */
  class NativeBackend extends MathBackendCPU {
    /** Free buffers kept for reuse: at most 1/8 of the machine's memory. */
    readonly pool = new BufferPool(Math.floor(totalmem() / 8));

    constructor() {
      super();
      // MathBackendCPU prints a "use tfjs-node" notice on its first tensor in Node; this backend
      // is the faster path that notice asks for.
      (this as unknown as { firstUse: boolean }).firstUse = false;
    }

    allocateValues(dtype: DataType, size: number): TensorArray {
      return this.pool.allocate(dtype, size);
    }

    override write(values: backend_util.BackendValues, shape: number[], dtype: DataType): DataId {
      const dataId = super.write(values, shape, dtype);
      this.pool.retain(values);
      return dataId;
    }

    override move(dataId: DataId, values: backend_util.BackendValues, shape: number[], dtype: DataType, refCount: number): void {
      super.move(dataId, values, shape, dtype, refCount);
      this.pool.retain(values);
    }

    override disposeData(dataId: DataId, force = false): boolean {
      const values = this.data.get(dataId)?.values;
      const had = this.data.has(dataId);
      const released = super.disposeData(dataId, force);
      if (had && !this.data.has(dataId)) this.pool.release(values);
      return released;
    }

    override readSync(dataId: DataId): backend_util.BackendValues {
      const values = super.readSync(dataId);
      return this.pool.owns(values) ? (values as TensorArray).slice() : values;
    }

    override dispose(): void {
      super.dispose();
      this.pool.clear();
    }
  }
  registerBackend(NATIVE_TF_BACKEND, () => new NativeBackend(), 0);
  const cpuKernels = new Map<string, KernelFunc>();
  for (const config of getKernelsForBackend('cpu')) {
    cpuKernels.set(config.kernelName, config.kernelFunc);
    if ((getKernel(config.kernelName, NATIVE_TF_BACKEND) as KernelConfig | undefined) === undefined) {
      registerKernel({ ...config, backendName: NATIVE_TF_BACKEND });
    }
  }
  const names: string[] = [];
  for (const config of nativeKernelConfigs(addon, (name) => cpuKernels.get(name))) {
    if ((getKernel(config.kernelName, NATIVE_TF_BACKEND) as KernelConfig | undefined) !== undefined) {
      unregisterKernel(config.kernelName, NATIVE_TF_BACKEND);
    }
    registerKernel(config);
    names.push(config.kernelName);
  }
  registeredKernels = names;
}

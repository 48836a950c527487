import {
  Conv2DBackpropFilter,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  getKernel,
  registerKernel,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';
import { wasmUnsortedSegmentSumConfig } from './unsorted-segment-sum-kernel.js';
import { asWasmBackend } from './wasm-heap.js';

const WASM = 'wasm';

/**
 * Gradient kernels that tfjs-backend-wasm 4.22 lacks and that run through tfjs-backend-cpu's
 * implementation (the operands are copied off the wasm heap, computed in JS, copied back):
 * the filter gradient of `conv2d` and both gradients of `depthwiseConv2d`.
 */
export const WASM_KERNELS_VIA_CPU: readonly string[] = [Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter, DepthwiseConv2dNativeBackpropInput];

type CpuBackendLike = {
  makeTensorInfo(shape: number[], dtype: TensorInfo['dtype'], values: ArrayLike<number>): TensorInfo;
  readSync(dataId: object): ArrayLike<number>;
  dispose(): void;
};

/**
 * A wasm kernel that runs `cpuKernel` (a tfjs-backend-cpu kernel function) on copies of its
 * inputs in a private `MathBackendCPU`, then writes the results to the wasm heap.
 */
export function wasmKernelViaCpu(kernelName: string, cpuKernel: KernelFunc, makeCpuBackend: () => CpuBackendLike): KernelConfig {
  const kernelFunc: KernelFunc = (params) => {
    const wasm = asWasmBackend(params.backend, kernelName);
    const cpu = makeCpuBackend();
    try {
      const inputs: Record<string, TensorInfo> = {};
      for (const [name, tensor] of Object.entries(params.inputs as Record<string, TensorInfo | undefined>)) {
        if (tensor == null) continue;
        if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32' && tensor.dtype !== 'bool') {
          throw new Llm2ClipError('E_BACKEND', `${kernelName} on wasm: input ${name} has unsupported dtype ${tensor.dtype}`);
        }
        inputs[name] = cpu.makeTensorInfo(tensor.shape, tensor.dtype, wasm.typedArrayFromHeap(tensor).slice());
      }
      const result = cpuKernel({ inputs, backend: cpu as never, attrs: params.attrs });
      const outputs = Array.isArray(result) ? result : [result];
      const copied = outputs.map((output) => {
        const target = wasm.makeOutput(output.shape, output.dtype);
        // Read the heap view only after makeOutput, which may grow (and detach) the memory.
        wasm.typedArrayFromHeap(target).set(cpu.readSync(output.dataId));
        return target;
      });
      return Array.isArray(result) ? copied : copied[0];
    } finally {
      cpu.dispose();
    }
  };
  return { kernelName, backendName: WASM, kernelFunc };
}

function missing(kernelName: string): boolean {
  return (getKernel(kernelName, WASM) as KernelConfig | undefined) === undefined;
}

/**
 * Registers on the tfjs `wasm` backend what it lacks for training: `UnsortedSegmentSum` (the
 * gradient of `tf.gather`, in JS on the heap) and {@link WASM_KERNELS_VIA_CPU} (through
 * tfjs-backend-cpu). Kernels the backend already has are left alone. Safe to call repeatedly.
 */
export async function ensureWasmTrainingKernels(): Promise<void> {
  if (missing(wasmUnsortedSegmentSumConfig.kernelName)) registerKernel(wasmUnsortedSegmentSumConfig);
  if (!WASM_KERNELS_VIA_CPU.some(missing)) return;
  const { MathBackendCPU } = await import('@tensorflow/tfjs-backend-cpu');
  const makeCpuBackend = (): CpuBackendLike => {
    const backend = new MathBackendCPU();
    (backend as unknown as { firstUse: boolean }).firstUse = false;
    return backend as unknown as CpuBackendLike;
  };
  for (const kernelName of WASM_KERNELS_VIA_CPU) {
    const cpuKernel = getKernel(kernelName, 'cpu') as KernelConfig | undefined;
    if (missing(kernelName) && cpuKernel !== undefined) registerKernel(wasmKernelViaCpu(kernelName, cpuKernel.kernelFunc, makeCpuBackend));
  }
}

/**
 * Backend selection for `@llm2clip/tensor`: tfjs-node-gpu > tfjs-node > native (C++ kernels
 * + OpenBLAS) > wasm > cpu.
 *
 * @module
 */
export { BACKEND_PREFERENCE, isBackendName, type BackendName } from './backend-name.js';
export type { BackendInfo, SkippedBackend } from './backend-info.js';
export { BACKEND_ENV, initBackend, getBackendInfo, type InitBackendOptions } from './init-backend.js';
export { NATIVE_PATH_ENV, nativeAddonStatus, type NativeAddonStatus } from './native-addon.js';
export { ensureGradientsRegistered } from './tfjs-gradients.js';
export { registerNativeBackend, nativeKernelNames } from './native-backend.js';
export { ensureWasmTrainingKernels, WASM_KERNELS_VIA_CPU } from './wasm-training-kernels.js';

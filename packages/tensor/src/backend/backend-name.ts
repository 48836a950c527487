/**
 * The tensor backends llm2clip-ts can run on, fastest first:
 *
 * - `tensorflow-gpu`: `@tensorflow/tfjs-node-gpu` (libtensorflow with CUDA), an optional peer.
 * - `tensorflow`: `@tensorflow/tfjs-node` (libtensorflow on the CPU), an optional peer.
 * - `native`: tensors as plain JS typed arrays (tfjs-backend-cpu's storage, no 4 GB wasm heap
 *   limit) with this package's multi-threaded C++ kernels (N-API addon): matrix products through
 *   OpenBLAS, element-wise ops, reductions, softmax, layout ops, gather; every other kernel is
 *   tfjs-backend-cpu's. Needs the addon to have built at install time.
 * - `wasm`: the stock tfjs `wasm` backend, plus the kernels it lacks for training
 *   (`UnsortedSegmentSum`, `Conv2DBackpropFilter`, depthwise-conv gradients).
 * - `cpu`: the pure-JS tfjs `cpu` backend, always available and slowest.
 */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'native' | 'wasm' | 'cpu';

/** Every {@link BackendName} in the order {@link initBackend} tries them. */
export const BACKEND_PREFERENCE: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu'];

/** True when `value` is one of the {@link BackendName}s. */
export function isBackendName(value: unknown): value is BackendName {
  return typeof value === 'string' && (BACKEND_PREFERENCE as readonly string[]).includes(value);
}

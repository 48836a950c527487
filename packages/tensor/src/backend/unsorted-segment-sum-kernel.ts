import {
  UnsortedSegmentSum,
  util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  type UnsortedSegmentSumAttrs,
} from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';
import { asWasmBackend } from './wasm-heap.js';

/**
 * `UnsortedSegmentSum` for the tfjs `wasm` backend, which ships none — without it `tf.gather`
 * (embedding lookup) has no gradient there. Computed in JS on the wasm heap:
 * `out[s, ...] = Σ x[i, ...]` over the positions `i` of `segmentIds` equal to `s`, where the
 * leading dims of `x` match `segmentIds` (rank-1 in tfjs's own use). Ids outside
 * `[0, numSegments)` are dropped, as tfjs-backend-cpu drops them. Supports float32 and int32.
 */
export const wasmUnsortedSegmentSumConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: ((params) => {
    const { x, segmentIds } = params.inputs as { x: TensorInfo; segmentIds: TensorInfo };
    const { numSegments } = (params.attrs ?? {}) as unknown as UnsortedSegmentSumAttrs;
    const backend = asWasmBackend(params.backend, UnsortedSegmentSum);
    if (x.dtype !== 'float32' && x.dtype !== 'int32') {
      throw new Llm2ClipError('E_BACKEND', `UnsortedSegmentSum on wasm supports float32 and int32 data, got ${x.dtype}`);
    }
    if (segmentIds.dtype !== 'int32') {
      throw new Llm2ClipError('E_BACKEND', `UnsortedSegmentSum segmentIds must be int32, got ${segmentIds.dtype}`);
    }
    if (!Number.isInteger(numSegments) || numSegments < 0) {
      throw new Llm2ClipError('E_SHAPE', `UnsortedSegmentSum numSegments must be a non-negative integer, got ${numSegments}`);
    }
    const idsRank = segmentIds.shape.length;
    if (!util.arraysEqual(x.shape.slice(0, idsRank), segmentIds.shape)) {
      throw new Llm2ClipError(
        'E_SHAPE',
        `UnsortedSegmentSum segmentIds shape [${segmentIds.shape.join(', ')}] is not a prefix of data shape [${x.shape.join(', ')}]`,
      );
    }
    const rowShape = x.shape.slice(idsRank);
    const rowSize = util.sizeFromShape(rowShape);
    const out = backend.makeOutput([numSegments, ...rowShape], x.dtype);
    // Views are taken after makeOutput: allocating may grow the heap and detach older views.
    const sums = backend.typedArrayFromHeap(out);
    const values = backend.typedArrayFromHeap(x);
    const ids = backend.typedArrayFromHeap(segmentIds);
    sums.fill(0);
    for (let i = 0; i < ids.length; i++) {
      const segment = ids[i];
      if (segment < 0 || segment >= numSegments) continue;
      const from = i * rowSize;
      const to = segment * rowSize;
      for (let j = 0; j < rowSize; j++) sums[to + j] += values[from + j];
    }
    return out;
  }) as KernelFunc,
};

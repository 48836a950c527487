// Tensor kernels of the `native` tfjs backend that work on JS typed arrays (zero-copy): element-wise,
// reductions, softmax, strided copies (transpose, slice, tile, concat), gather and segment sums,
// and matrix products. Each validates every extent against its arrays before touching memory and
// throws TypeError/RangeError on bad arguments. Op codes are mirrored in src/backend/native-ops.ts.
#pragma once

#include <napi.h>

namespace llm2clip {

// binary(op, a, aStart, aStrides, b, bStart, bStrides, out, outShape): out (contiguous, Float32Array
// or Uint8Array for comparisons) = op(a, b) with a, b read through per-output-dim strides.
Napi::Value Binary(const Napi::CallbackInfo& info);
// unary(op, x, out, alpha, beta): contiguous float32, same length.
Napi::Value Unary(const Napi::CallbackInfo& info);
// select(cond: Uint8Array, t, e, out): same length; out = cond ? t : e.
Napi::Value Select(const Napi::CallbackInfo& info);
// reduce(op, x, out, outer, size, inner): x is [outer, size, inner], out [outer, inner].
Napi::Value Reduce(const Napi::CallbackInfo& info);
// softmax(x, out, rows, cols): softmax over the last dim.
Napi::Value Softmax(const Napi::CallbackInfo& info);
// copyStrided(src, srcStart, srcStrides, dst, dstStart, dstStrides, shape): same element size.
Napi::Value CopyStrided(const Napi::CallbackInfo& info);
// gather(x, outer, dim, inner, indices: Int32Array, out): out[o, i, :] = x[o, indices[i], :].
Napi::Value Gather(const Napi::CallbackInfo& info);
// segmentSum(x, ids: Int32Array, numSegments, inner, out): float32, ids outside range dropped.
Napi::Value SegmentSum(const Napi::CallbackInfo& info);
// resampleU8(src, width, height, channels, outSize, axis 0 = horizontal | 1 = vertical, start, count,
// weight: Int32Array (Pillow's 22-bit fixed-point taps, ksize per output), ksize, out): one pass of
// Pillow's 8-bit bicubic resample, bit-exact with Resample.c.
Napi::Value ResampleU8(const Napi::CallbackInfo& info);
// resizeCropU8(src, srcWidth, srcHeight, channels, left, top, cropWidth, cropHeight, outWidth,
// outHeight, xStart, xCount, xWeight, xKsize, yStart, yCount, yWeight, yKsize, out, flags): Pillow's
// crop(box).resize() in one call, reading the box in place; flags bit 0 forces the scalar kernels.
Napi::Value ResizeCropU8(const Napi::CallbackInfo& info);
// matmulArrays(a, b, out: Float32Array, spec, bias?: Float32Array, prelu?: Float32Array)
//
// spec fields (offsets in bytes from the start of each operand's array, strides in floats):
//   m, n, k                    out[b] (m x n) = op(A[b]) (m x k) * op(B[b]) (k x n)
//   transposeA, transposeB     A[b] is stored k x m / B[b] is stored n x k when set
//   batchShape: number[]       batch dims of the output (broadcast already resolved)
//   aOffset, aBatchStrides     start of A and its stride per batch dim (0 = broadcast)
//   bOffset, bBatchStrides     same for B
//   outOffset                  start of the contiguous [batch..., m, n] output
//   activation?                0 linear, 1 relu, 2 relu6, 3 prelu, 4 leakyrelu, 5 sigmoid, 6 elu
//                              (the numbering of tfjs-backend-wasm's FusableActivation)
//   alpha?                     leakyrelu slope
//   bias?, prelu?              { offset, batchStrides, rowStride, colStride }: element (b, i, j)
//                              is read at offset + sum(b_d * batchStrides[d]) + i*rowStride +
//                              j*colStride of the bias / prelu array, any broadcast onto the output
// A batch whose A is contiguous and whose B is shared runs as one tall GEMM.
Napi::Value MatMulArrays(const Napi::CallbackInfo& info);
// setPoolThreads(n) / getPoolThreads(): threads of the kernels above (not of BLAS).
Napi::Value SetPoolThreadsJs(const Napi::CallbackInfo& info);
Napi::Value GetPoolThreadsJs(const Napi::CallbackInfo& info);

}  // namespace llm2clip

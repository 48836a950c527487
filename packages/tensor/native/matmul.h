// Batched single-precision matrix multiplication on float32 data that lives in a JS ArrayBuffer
// (the tfjs wasm heap), with an optional fused bias add and activation.
#pragma once

#include <napi.h>

namespace llm2clip {

// matmul(heap: ArrayBuffer, spec: MatMulSpec): undefined
//
// spec fields (offsets in bytes from the start of `heap`, strides in float32 elements):
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
//                              j*colStride, which expresses any broadcast onto [batch..., m, n]
//
// Every extent is checked against heap.byteLength before any memory is touched; bad arguments
// throw a JS TypeError or RangeError instead of crashing the process.
Napi::Value MatMul(const Napi::CallbackInfo& info);

}  // namespace llm2clip

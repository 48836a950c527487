import { Llm2ClipError } from '@llm2clip/core';

/**
 * How a (batched, broadcast) matrix product maps onto per-batch GEMMs: `out[...batch] =
 * op(A[...batch]) · op(B[...batch])` with `op` an optional transpose. Strides are in elements,
 * one per output batch dim, 0 where the operand broadcasts.
 */
export interface MatMulPlan {
  /** Rows of each output matrix. */
  m: number;
  /** Columns of each output matrix. */
  n: number;
  /** Inner (summed) dimension. */
  k: number;
  /** Output batch dims (the broadcast of both operands' batch dims). */
  batchShape: number[];
  /** A's stride per output batch dim. */
  aBatchStrides: number[];
  /** B's stride per output batch dim. */
  bBatchStrides: number[];
  /** `[...batchShape, m, n]`. */
  outShape: number[];
}

/** Strides of a tensor broadcast onto a `[...batch, m, n]` output (see {@link broadcastStrides}). */
export interface BroadcastStrides {
  /** Stride per output batch dim. */
  batchStrides: number[];
  /** Stride per output row. */
  rowStride: number;
  /** Stride per output column. */
  colStride: number;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** NumPy broadcast of two batch shapes; throws `E_SHAPE` when a dim pair is neither equal nor 1. */
export function broadcastBatchShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 1; i <= rank; i++) {
    const da = i <= a.length ? a[a.length - i] : 1;
    const db = i <= b.length ? b[b.length - i] : 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Llm2ClipError('E_SHAPE', `matMul batch dims ${shapeText(a)} and ${shapeText(b)} do not broadcast`);
    }
    out[rank - i] = da === 1 ? db : da;
  }
  return out;
}

// Element strides of an operand whose batch dims `batch` (right-aligned with `outBatch`) each
// hold a block of `blockSize` elements; 0 where the operand's dim is 1 (broadcast).
function batchStridesOf(batch: readonly number[], outBatch: readonly number[], blockSize: number): number[] {
  const strides = new Array<number>(outBatch.length).fill(0);
  let stride = blockSize;
  for (let i = 1; i <= batch.length; i++) {
    const dim = batch[batch.length - i];
    strides[outBatch.length - i] = dim === 1 ? 0 : stride;
    stride *= dim;
  }
  return strides;
}

/**
 * Plans `matMul(a, b, transposeA, transposeB)` for tensors of rank ≥ 2 with broadcastable batch
 * dims, as tfjs's `BatchMatMul` kernel defines it. Throws `E_SHAPE` on mismatched shapes.
 */
export function planMatMul(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): MatMulPlan {
  if (aShape.length < 2 || bShape.length < 2) {
    throw new Llm2ClipError('E_SHAPE', `matMul needs tensors of rank >= 2, got ${shapeText(aShape)} and ${shapeText(bShape)}`);
  }
  const aRank = aShape.length;
  const bRank = bShape.length;
  const m = transposeA ? aShape[aRank - 1] : aShape[aRank - 2];
  const k = transposeA ? aShape[aRank - 2] : aShape[aRank - 1];
  const kB = transposeB ? bShape[bRank - 1] : bShape[bRank - 2];
  const n = transposeB ? bShape[bRank - 2] : bShape[bRank - 1];
  if (k !== kB) {
    throw new Llm2ClipError(
      'E_SHAPE',
      `matMul inner dims differ: ${shapeText(aShape)}${transposeA ? 'ᵀ' : ''} · ${shapeText(bShape)}${transposeB ? 'ᵀ' : ''} (${k} vs ${kB})`,
    );
  }
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const batchShape = broadcastBatchShapes(aBatch, bBatch);
  return {
    m,
    n,
    k,
    batchShape,
    aBatchStrides: batchStridesOf(aBatch, batchShape, m * k),
    bBatchStrides: batchStridesOf(bBatch, batchShape, k * n),
    outShape: [...batchShape, m, n],
  };
}

/**
 * Element strides that read a contiguous tensor of `shape` broadcast onto `outShape` (rank ≥ 2,
 * `[...batch, m, n]`), as a bias or PReLU weights of a fused matMul. Throws `E_SHAPE` when
 * `shape` does not broadcast to `outShape` without growing it.
 */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[], what: string): BroadcastStrides {
  let trimmed = [...shape];
  while (trimmed.length > outShape.length && trimmed[0] === 1) trimmed = trimmed.slice(1);
  if (trimmed.length > outShape.length) {
    throw new Llm2ClipError('E_SHAPE', `${what} of shape ${shapeText(shape)} does not broadcast onto the output ${shapeText(outShape)}`);
  }
  const padded = [...new Array<number>(outShape.length - trimmed.length).fill(1), ...trimmed];
  const strides = new Array<number>(outShape.length).fill(0);
  let stride = 1;
  for (let d = outShape.length - 1; d >= 0; d--) {
    const dim = padded[d];
    if (dim !== outShape[d] && dim !== 1) {
      throw new Llm2ClipError('E_SHAPE', `${what} of shape ${shapeText(shape)} does not broadcast onto the output ${shapeText(outShape)}`);
    }
    strides[d] = dim === 1 ? 0 : stride;
    stride *= dim;
  }
  const rank = outShape.length;
  return { batchStrides: strides.slice(0, rank - 2), rowStride: strides[rank - 2], colStride: strides[rank - 1] };
}

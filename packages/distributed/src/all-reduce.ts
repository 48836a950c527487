import * as tf from '@tensorflow/tfjs-core';
import { getCommunicator } from './process-group.js';
import { hostCopy, requireFloat32, requireMpiCount } from './host.js';

/** Reductions of {@link allReduce}: `mean` is the sum divided by the world size. */
export type AllReduceOp = 'sum' | 'mean' | 'max' | 'min';

/** Divides in place by `n` (for `mean`). */
export function scaleInPlace(buf: Float32Array, factor: number): void {
  if (factor === 1) return;
  for (let i = 0; i < buf.length; i++) buf[i] *= factor;
}

/**
 * Element-wise reduction of `x` over all ranks (one `MPI_Allreduce` on a host copy, off the JS
 * thread). Returns a new tensor of `x`'s shape; `x` is left alone. In a world of one it is a copy.
 */
export async function allReduce(x: tf.Tensor, op: AllReduceOp = 'sum'): Promise<tf.Tensor> {
  requireFloat32(x, 'allReduce');
  requireMpiCount(x.size, 'allReduce');
  const comm = getCommunicator();
  const buf = hostCopy(x);
  await comm.allReduce(buf, op === 'mean' ? 'sum' : op);
  if (op === 'mean') scaleInPlace(buf, 1 / comm.size);
  return tf.tensor(buf, x.shape, 'float32');
}

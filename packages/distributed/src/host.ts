import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';

/** Throws `E_CONFIG` unless `x` is float32 (the collectives move float32 only). */
export function requireFloat32(x: tf.Tensor, what: string): void {
  if (x.dtype !== 'float32') {
    throw new Llm2ClipError('E_CONFIG', `${what}: collectives move float32 tensors, got ${x.dtype} of shape [${x.shape.join(', ')}]`, { field: 'dtype' });
  }
}

/** A copy of the tensor's values that the collective may overwrite (dataSync may alias backend memory). */
export function hostCopy(x: tf.Tensor): Float32Array {
  const data = x.dataSync();
  // slice() is a memcpy; Float32Array.from walks the iterator (several times slower)
  return data instanceof Float32Array ? data.slice() : Float32Array.from(data as ArrayLike<number>);
}

/** MPI counts are C ints. */
export function requireMpiCount(count: number, what: string): void {
  if (count > 0x7fffffff) {
    throw new Llm2ClipError('E_SHAPE', `${what}: ${count} elements exceed MPI's int count limit (2^31 - 1); split the tensor`);
  }
}

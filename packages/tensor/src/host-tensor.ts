import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor } from './safetensors.js';

/** Copies a tfjs tensor to host memory. */
export function toHostTensor(tensor: tf.Tensor): HostTensor {
  const dtype = tensor.dtype === 'int32' || tensor.dtype === 'bool' ? 'int32' : 'float32';
  const data = dtype === 'int32' ? Int32Array.from(tensor.dataSync() as Int32Array) : Float32Array.from(tensor.dataSync() as Float32Array);
  return { shape: [...tensor.shape], dtype, data };
}

/** Creates a tfjs tensor from a host tensor (the caller owns it). */
export function fromHostTensor(host: HostTensor): tf.Tensor {
  return tf.tensor(host.data, host.shape, host.dtype);
}

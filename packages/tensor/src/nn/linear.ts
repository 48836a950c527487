import * as tf from '@tensorflow/tfjs-core';

/**
 * A linear layer with weights in PyTorch/Hugging Face layout: `y = x · Wᵀ + b`, where
 * `weight` is `[out, in]` and `x` is `[..., in]`. Returns a new tensor owned by the caller.
 */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const inFeatures = x.shape[x.shape.length - 1];
  const outFeatures = weight.shape[0];
  const leading = x.shape.slice(0, -1);
  const flat = tf.reshape(x, [-1, inFeatures]) as tf.Tensor2D;
  let y: tf.Tensor = tf.matMul(flat, weight as tf.Tensor2D, false, true);
  if (bias !== undefined) y = tf.add(y, bias);
  return tf.reshape(y, [...leading, outFeatures]);
}

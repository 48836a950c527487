import * as tf from '@tensorflow/tfjs-core';

/** Layer normalisation over the last axis: `(x - mean) / sqrt(var + eps) * weight + bias`. */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = tf.mean(x, axis, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), axis, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), weight), bias);
  });
}

/** RMS normalisation over the last axis as Llama defines it: `x / sqrt(mean(x²) + eps) * weight`. */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps = 1e-6): tf.Tensor {
  return tf.tidy(() => {
    const meanSquare = tf.mean(tf.square(x), x.rank - 1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight);
  });
}

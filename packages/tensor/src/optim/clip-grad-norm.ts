import * as tf from '@tensorflow/tfjs-core';

/**
 * Scales gradients in place so their global L2 norm is at most `maxNorm`, as PyTorch's
 * `clip_grad_norm_` does (factor `maxNorm / (norm + 1e-6)`, applied only when below 1).
 * Returns the norm before clipping.
 */
export function clipGradNorm(grads: Map<string, tf.Tensor>, maxNorm: number): number {
  const total = tf.tidy(() => {
    const squares = [...grads.values()].map((g) => tf.sum(tf.square(g)));
    return tf.sqrt(tf.addN(squares));
  });
  const norm = total.dataSync()[0];
  total.dispose();
  const factor = maxNorm / (norm + 1e-6);
  if (factor < 1) {
    for (const [name, grad] of grads) {
      grads.set(name, tf.keep(tf.mul(grad, factor)));
      grad.dispose();
    }
  }
  return norm;
}

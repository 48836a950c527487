import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';

/** How token states become one vector (LLM2Vec's `pooling_mode`). */
export type PoolingMode = 'mean' | 'weighted_mean' | 'eos' | 'bos';

/** Every {@link PoolingMode}. */
export const POOLING_MODES: readonly PoolingMode[] = ['mean', 'weighted_mean', 'eos', 'bos'];

/**
 * Per-token pooling weights `[batch, seq]` that sum to 1 per row (0 for a row with nothing to pool):
 *
 * - `mean`: uniform over `embedMask` (text tokens; instruction tokens and padding excluded);
 * - `weighted_mean`: proportional to the token's 1-based index within the text (SGPT's
 *   position-weighted mean), counted from the first text token so padding does not shift it;
 * - `eos`: the last non-padding token; `bos`: the first non-padding token.
 *
 * Weights depend only on which tokens are real, never on where padding sits, so left- and
 * right-padded copies of a batch pool to the same vectors. The caller owns the result.
 */
export function poolingWeights(attentionMask: tf.Tensor2D, embedMask: tf.Tensor2D, mode: PoolingMode): tf.Tensor2D {
  return tf.tidy(() => {
    let weights: tf.Tensor;
    switch (mode) {
      case 'mean':
        weights = tf.cast(embedMask, 'float32');
        break;
      case 'weighted_mean': {
        const mask = tf.cast(embedMask, 'float32');
        weights = tf.mul(tf.cumsum(mask, 1), mask);
        break;
      }
      case 'eos': {
        const mask = tf.cast(attentionMask, 'float32');
        const count = tf.sum(mask, 1, true);
        weights = tf.mul(tf.cast(tf.equal(tf.cumsum(mask, 1), count), 'float32'), mask);
        break;
      }
      case 'bos': {
        const mask = tf.cast(attentionMask, 'float32');
        weights = tf.mul(tf.cast(tf.equal(tf.cumsum(mask, 1), 1), 'float32'), mask);
        break;
      }
      default:
        throw new Llm2ClipError('E_CONFIG', `unknown pooling mode ${String(mode)}; expected one of ${POOLING_MODES.join(', ')}`, { field: 'pooling' });
    }
    const total = tf.sum(weights, 1, true);
    return tf.div(weights, tf.maximum(total, 1e-9)) as tf.Tensor2D;
  });
}

/**
 * Pools hidden states `[batch, seq, hidden]` into `[batch, hidden]` with {@link poolingWeights}
 * (one batched matmul). Differentiable; the caller owns the result.
 */
export function poolHiddenStates(hidden: tf.Tensor3D, attentionMask: tf.Tensor2D, embedMask: tf.Tensor2D, mode: PoolingMode): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch, seq, width] = hidden.shape;
    const weights = tf.reshape(poolingWeights(attentionMask, embedMask, mode), [batch, 1, seq]) as tf.Tensor3D;
    return tf.reshape(tf.matMul(weights, hidden), [batch, width]) as tf.Tensor2D;
  });
}

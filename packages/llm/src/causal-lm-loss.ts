import * as tf from '@tensorflow/tfjs-core';
import { softmaxCrossEntropy } from '@llm2clip/tensor';
import type { Rng } from '@llm2clip/core';
import type { LlamaModel } from './llama-model.js';

/**
 * Next-token cross-entropy of a causal decoder: position t predicts token t+1, averaged over the
 * pairs where both tokens are real (padding on either side contributes nothing, and the first
 * real token of a left-padded row is not predicted from padding). Uses causal attention (and
 * LoRA dropout when `training` with an `rng`). Differentiable; the caller owns the scalar.
 */
export function causalLmLoss(
  model: LlamaModel,
  inputIds: tf.Tensor2D,
  attentionMask: tf.Tensor2D,
  options: { training?: boolean; rng?: Rng } = {},
): tf.Scalar {
  return tf.tidy(() => {
    const [batch, seq] = inputIds.shape;
    if (seq < 2) return tf.scalar(0);
    const hidden = model.forward(inputIds, attentionMask, { bidirectional: false, training: options.training, rng: options.rng });
    const width = hidden.shape[2];
    const sources = tf.reshape(tf.slice(hidden, [0, 0, 0], [batch, seq - 1, width]), [batch * (seq - 1), width]);
    const logits = model.logits(sources) as tf.Tensor2D;
    const targets = tf.reshape(tf.slice(tf.cast(inputIds, 'int32'), [0, 1], [batch, seq - 1]), [-1]);
    const mask = tf.cast(attentionMask, 'int32');
    const valid = tf.reshape(tf.mul(tf.slice(mask, [0, 0], [batch, seq - 1]), tf.slice(mask, [0, 1], [batch, seq - 1])), [-1]);
    // label −1 marks pairs to ignore (softmaxCrossEntropy skips negative labels)
    const labels = tf.sub(tf.mul(tf.add(targets, 1), valid), 1) as tf.Tensor1D;
    return softmaxCrossEntropy(logits, labels);
  });
}

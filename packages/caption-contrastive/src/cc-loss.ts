import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';
import { l2Normalize, softmaxCrossEntropy } from '@llm2clip/tensor';

/** LLM2Vec's default temperature inverse: scores are cosine similarities times 50. */
export const DEFAULT_CC_SCALE = 50;

/**
 * The supervised contrastive loss of LLM2Vec / LLM2CLIP stage 1 (`HardNegativeNLLLoss`):
 * with L2-normalised `[B, d]` embeddings, `scores = scale · cos(query_i, [positives ; hardNegatives])`
 * (`[B, 2B]`, or `[B, B]` without hard negatives) and the mean cross-entropy toward column `i`.
 * Every other positive in the batch acts as an in-batch negative. Differentiable; the caller
 * owns the scalar.
 */
export function captionContrastiveLoss(
  queries: tf.Tensor2D,
  positives: tf.Tensor2D,
  hardNegatives?: tf.Tensor2D,
  scale: number = DEFAULT_CC_SCALE,
): tf.Scalar {
  const [batch, dim] = queries.shape;
  const check = (tensor: tf.Tensor2D, field: string) => {
    if (tensor.shape[0] !== batch || tensor.shape[1] !== dim) {
      throw new Llm2ClipError('E_SHAPE', `expected [${batch}, ${dim}], got [${tensor.shape}]`, { field });
    }
  };
  check(positives, 'positives');
  if (hardNegatives !== undefined) check(hardNegatives, 'hardNegatives');
  return tf.tidy(() => {
    const documents = hardNegatives === undefined ? positives : tf.concat([positives, hardNegatives], 0);
    const scores = tf.mul(tf.matMul(l2Normalize(queries), l2Normalize(documents), false, true), scale) as tf.Tensor2D;
    return softmaxCrossEntropy(scores, tf.range(0, batch, 1, 'int32') as tf.Tensor1D);
  });
}

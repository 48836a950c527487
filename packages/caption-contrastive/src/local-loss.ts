import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';
import { l2Normalize, softmaxCrossEntropy } from '@llm2clip/tensor';
import { DEFAULT_CC_SCALE } from './cc-loss.js';

/**
 * One rank's share of {@link captionContrastiveLoss} in a data-parallel run, as open_clip's
 * `local_loss`: this rank's query rows `[b, d]` (rows `labelOffset … labelOffset+b−1` of the
 * global batch of `globalBatch`) against every rank's documents `[positives ; hardNegatives]`
 * (`[2·globalBatch, d]`, gathered), cross-entropy toward column `labelOffset + i`, summed over the
 * rows and divided by `globalBatch`. Summed over ranks it is the one-process loss (the mean over
 * all rows), and so is its gradient when the documents come from an all-gather with a gradient.
 * A rank with no query rows (`b = 0`) gets `0 · sum(documents)`, which keeps it in the backward
 * pass (the all-gather's reduce-scatter is collective). The caller owns the scalar.
 */
export function localCaptionContrastiveLoss(
  queries: tf.Tensor2D,
  documents: tf.Tensor2D,
  labelOffset: number,
  globalBatch: number,
  scale: number = DEFAULT_CC_SCALE,
): tf.Scalar {
  const [rows, dim] = queries.shape;
  if (documents.shape[1] !== dim) throw new Llm2ClipError('E_SHAPE', `documents have ${documents.shape[1]} columns, queries ${dim}`, { field: 'documents' });
  if (labelOffset < 0 || labelOffset + rows > globalBatch || globalBatch > documents.shape[0]) {
    throw new Llm2ClipError('E_SHAPE', `query rows ${labelOffset}…${labelOffset + rows - 1} do not fit a global batch of ${globalBatch} with ${documents.shape[0]} documents`, {
      field: 'labelOffset',
    });
  }
  return tf.tidy(() => {
    if (rows === 0) return tf.mul(tf.sum(documents), 0) as tf.Scalar;
    const scores = tf.mul(tf.matMul(l2Normalize(queries), l2Normalize(documents), false, true), scale) as tf.Tensor2D;
    const mean = softmaxCrossEntropy(scores, tf.range(labelOffset, labelOffset + rows, 1, 'int32') as tf.Tensor1D);
    return tf.mul(mean, rows / globalBatch) as tf.Scalar;
  });
}

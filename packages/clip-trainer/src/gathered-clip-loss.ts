import * as tf from '@tensorflow/tfjs-core';
import { allGatherWithGrad } from '@llm2clip/distributed';
import { l2Normalize, softmaxCrossEntropy } from '@llm2clip/tensor';

/**
 * The symmetric CLIP loss of one rank in a data-parallel run, as open_clip's `ClipLoss` with
 * `local_loss=True, gather_with_grad=True`: this rank's L2-normalised image rows against every
 * rank's text columns (and its text rows against every rank's image columns), both gathered with
 * `allGatherWithGrad`, with labels offset by `rowOffset` (= rank · local batch). Returns this
 * rank's mean loss over its rows.
 *
 * The mean of this loss over ranks is the single-process loss of the global batch, and because the
 * gather's backward sums the gradient over ranks (a reduce-scatter), the mean over ranks of each
 * rank's parameter gradients equals the single-process gradient — so gradients are all-reduced with
 * `mean`. In a world of one (`rowOffset` 0) it is `clipContrastiveLoss` of `@llm2clip/tensor`.
 * Every rank must call it (the gathers are collective), in its forward and its backward.
 */
export function gatheredClipLoss(image: tf.Tensor2D, text: tf.Tensor2D, logitScale: tf.Tensor, rowOffset: number): tf.Scalar {
  return tf.tidy(() => {
    const rows = image.shape[0];
    const localImage = l2Normalize(image) as tf.Tensor2D;
    const localText = l2Normalize(text) as tf.Tensor2D;
    const allImage = allGatherWithGrad(localImage) as tf.Tensor2D;
    const allText = allGatherWithGrad(localText) as tf.Tensor2D;
    const labels = tf.range(rowOffset, rowOffset + rows, 1, 'int32') as tf.Tensor1D;
    const imageToText = softmaxCrossEntropy(tf.mul(tf.matMul(localImage, allText, false, true), logitScale) as tf.Tensor2D, labels);
    const textToImage = softmaxCrossEntropy(tf.mul(tf.matMul(localText, allImage, false, true), logitScale) as tf.Tensor2D, labels);
    return tf.div(tf.add(imageToText, textToImage), 2) as tf.Scalar;
  });
}

import * as tf from '@tensorflow/tfjs-core';

/**
 * Mean cross-entropy of `logits` `[n, classes]` against integer `labels` `[n]`. Built from
 * `logSoftmax` and a one-hot mask (no gather), so its gradient runs on every backend.
 * Rows whose label is negative are ignored (the `-100` convention of PyTorch).
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const valid = tf.greaterEqual(labels, 0);
    const safeLabels = tf.cast(tf.where(valid, labels, tf.zerosLike(labels)), 'int32') as tf.Tensor1D;
    const oneHot = tf.cast(tf.oneHot(safeLabels, classes), 'float32');
    const perRow = tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), oneHot), 1));
    const weights = tf.cast(valid, 'float32');
    const count = tf.maximum(tf.sum(weights), 1);
    return tf.div(tf.sum(tf.mul(perRow, weights)), count) as tf.Scalar;
  });
}

/** Rows scaled to unit L2 norm (with `eps` guarding zero rows), as `F.normalize` does. */
export function l2Normalize(x: tf.Tensor, eps = 1e-12): tf.Tensor {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', -1, true), eps)));
}

/**
 * The symmetric CLIP loss: with `logits = scale · imageᵀ·text` of L2-normalised `[n, d]` embeddings,
 * the mean of cross-entropy over rows (image→text) and columns (text→image), row i matching column i.
 */
export function clipContrastiveLoss(imageEmbeddings: tf.Tensor2D, textEmbeddings: tf.Tensor2D, logitScale: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const n = imageEmbeddings.shape[0];
    const image = l2Normalize(imageEmbeddings) as tf.Tensor2D;
    const text = l2Normalize(textEmbeddings) as tf.Tensor2D;
    const logits = tf.mul(tf.matMul(image, text, false, true), logitScale) as tf.Tensor2D;
    const labels = tf.range(0, n, 1, 'int32') as tf.Tensor1D;
    const imageToText = softmaxCrossEntropy(logits, labels);
    const textToImage = softmaxCrossEntropy(tf.transpose(logits) as tf.Tensor2D, labels);
    return tf.div(tf.add(imageToText, textToImage), 2) as tf.Scalar;
  });
}

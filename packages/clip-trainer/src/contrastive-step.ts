import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';
import { accumulateGradients, clipContrastiveLoss, computeGradients, disposeGradients, type ParameterStore } from '@llm2clip/tensor';
import { allGather, allReduce, allReduceBucketed } from '@llm2clip/distributed';
import type { DataParallelRank } from './data-parallel.js';
import { gatheredClipLoss } from './gathered-clip-loss.js';

/** Name of the learnable log inverse temperature (open_clip's and Hugging Face's). */
export const LOGIT_SCALE = 'logit_scale';

/** One side of the contrastive loss: trainable weights and a forward from an input tensor to features. */
export interface ContrastiveTower {
  /** Weights of this tower (frozen ones are skipped). */
  readonly stores: readonly ParameterStore[];
  /** Features `[rows, dim]` of an input (caller owns them). */
  forward(input: tf.Tensor): tf.Tensor2D;
}

/**
 * The inputs of one micro-batch, made on demand (the caller's functions own the creation; the
 * returned tensors are disposed here). With gradient caching each is called twice and must give
 * the same tensor both times.
 */
export interface MicroBatchInputs {
  image(): tf.Tensor | Promise<tf.Tensor>;
  text(): tf.Tensor | Promise<tf.Tensor>;
}

/** The loss of a whole batch and the gradients of every trainable weight (caller disposes them). */
export interface ContrastiveGradients {
  loss: number;
  grads: Map<string, tf.Tensor>;
}

/** Options of {@link contrastiveGradients} for data-parallel runs. */
export interface ContrastiveParallelOptions {
  /** The process group; with `worldSize > 1` the micro-batches are this rank's rows of the global batch. */
  group?: DataParallelRank;
  /** Index of this rank's first row in the global batch (rank · local batch). [0] */
  rowOffset?: number;
  /** Bucket size of the gradient all-reduce. [`@llm2clip/distributed`'s default, 25 MiB] */
  bucketBytes?: number;
}

function hasTrainable(tower: ContrastiveTower): boolean {
  return tower.stores.some((store) => store.trainableNames().length > 0);
}

/**
 * Gradients of the symmetric CLIP loss over the batch made of `micro` (in order), exactly as if the
 * batch were one: with one micro-batch it is a plain forward/backward; with several it is gradient
 * caching (Gao et al., 2021) — (1) features of every micro-batch without a tape, (2) the full-batch
 * loss and its gradient with respect to the features and the logit scale, (3) per micro-batch a
 * forward with a tape and the backward of `Σ features ⊙ cached gradient`, summed. Memory for
 * activations is that of one micro-batch; the features of the whole batch (`2 × batch × dim`) are
 * kept. `logitStore` holds {@link LOGIT_SCALE}, the log of the inverse temperature.
 *
 * Data-parallel (`parallel.group.worldSize > 1`): `micro` are this rank's rows of the global batch
 * (starting at row `parallel.rowOffset`) and the result is the global batch's loss and gradients,
 * the same on every rank: with one micro-batch by open_clip's local loss against gathered features
 * ({@link gatheredClipLoss}), with several by gradient caching over the gathered features; the
 * gradients are all-reduced (mean, bucketed). Every rank must call it with the same number of
 * micro-batches.
 */
export async function contrastiveGradients(
  image: ContrastiveTower,
  text: ContrastiveTower,
  logitStore: ParameterStore,
  micro: readonly MicroBatchInputs[],
  parallel: ContrastiveParallelOptions = {},
): Promise<ContrastiveGradients> {
  if (micro.length === 0) throw new Llm2ClipError('E_DATA', 'a step needs at least one micro-batch', { field: 'microBatch' });
  const group = parallel.group ?? { rank: 0, worldSize: 1 };
  if (group.worldSize > 1) {
    const local = await localContrastiveGradients(image, text, logitStore, micro, group, parallel.rowOffset ?? 0);
    try {
      // every rank's gradients are its share of the global batch's: their mean is the global gradient
      const reduced = await allReduceBucketed(local.grads, { op: 'mean', bucketBytes: parallel.bucketBytes });
      return { loss: local.loss, grads: reduced };
    } finally {
      disposeGradients(local.grads);
    }
  }
  return localContrastiveGradients(image, text, logitStore, micro, group, 0);
}

/**
 * One rank's part of {@link contrastiveGradients} (the whole of it in a world of one): the loss of
 * the global batch and this rank's gradients, whose mean over ranks is the global gradient.
 */
async function localContrastiveGradients(
  image: ContrastiveTower,
  text: ContrastiveTower,
  logitStore: ParameterStore,
  micro: readonly MicroBatchInputs[],
  group: DataParallelRank,
  rowOffset: number,
): Promise<ContrastiveGradients> {
  const parallel = group.worldSize > 1;
  const logitScale = logitStore.get(LOGIT_SCALE);
  if (micro.length === 1 && parallel) {
    // open_clip's local loss against gathered columns; the loss of the global batch is the mean over ranks
    const imageInput = await micro[0].image();
    const textInput = await micro[0].text();
    try {
      const { loss, grads } = computeGradients([...image.stores, ...text.stores, logitStore], () =>
        gatheredClipLoss(image.forward(imageInput), text.forward(textInput), tf.exp(logitScale), rowOffset),
      );
      const globalLoss = await allReduce(loss, 'mean');
      const value = (await globalLoss.data())[0];
      tf.dispose([loss, globalLoss]);
      return { loss: value, grads };
    } finally {
      imageInput.dispose();
      textInput.dispose();
    }
  }
  if (micro.length === 1) {
    const imageInput = await micro[0].image();
    const textInput = await micro[0].text();
    try {
      const { loss, grads } = computeGradients([...image.stores, ...text.stores, logitStore], () => clipContrastiveLoss(image.forward(imageInput), text.forward(textInput), tf.exp(logitScale)));
      const value = (await loss.data())[0];
      loss.dispose();
      return { loss: value, grads };
    } finally {
      imageInput.dispose();
      textInput.dispose();
    }
  }

  // (1) features without a tape
  const imageParts: tf.Tensor2D[] = [];
  const textParts: tf.Tensor2D[] = [];
  const grads = new Map<string, tf.Tensor>();
  let imageGrad: tf.Tensor | undefined;
  let textGrad: tf.Tensor | undefined;
  try {
    for (const inputs of micro) {
      const imageInput = await inputs.image();
      try {
        imageParts.push(tf.tidy(() => image.forward(imageInput)));
      } finally {
        imageInput.dispose();
      }
      const textInput = await inputs.text();
      try {
        textParts.push(tf.tidy(() => text.forward(textInput)));
      } finally {
        textInput.dispose();
      }
    }
    // (2) the full-batch loss, differentiated with respect to the features and the logit scale
    let imageAll = tf.concat(imageParts, 0);
    let textAll = tf.concat(textParts, 0);
    const localRows = imageAll.shape[0];
    if (parallel) {
      // data-parallel: every rank computes the loss of the whole global batch from the gathered
      // features (no gradient through the gather: the features' gradients are sliced back below)
      const [localImage, localText] = [imageAll, textAll];
      imageAll = (await allGather(localImage)) as tf.Tensor2D;
      textAll = (await allGather(localText)) as tf.Tensor2D;
      tf.dispose([localImage, localText]);
    }
    const { value, grads: featureGrads } = tf.valueAndGrads((img: tf.Tensor, txt: tf.Tensor, scale: tf.Tensor) => clipContrastiveLoss(img as tf.Tensor2D, txt as tf.Tensor2D, tf.exp(scale)))([imageAll, textAll, logitScale]);
    imageAll.dispose();
    textAll.dispose();
    const loss = (await value.data())[0];
    value.dispose();
    if (parallel) {
      // this rank's rows of the feature gradients, times worldSize: the mean over ranks of the
      // parameter gradients is then the global gradient (the logit scale's is the same on every rank)
      [imageGrad, textGrad] = featureGrads.slice(0, 2).map((g) => tf.tidy(() => tf.mul(tf.slice(g, [rowOffset, 0], [localRows, -1]), group.worldSize)));
      tf.dispose(featureGrads.slice(0, 2));
    } else {
      [imageGrad, textGrad] = featureGrads;
    }
    if (logitScale.trainable) grads.set(LOGIT_SCALE, featureGrads[2]);
    else featureGrads[2].dispose();

    // (3) per micro-batch: backward of Σ features ⊙ cached gradient
    const imageTrains = hasTrainable(image);
    const textTrains = hasTrainable(text);
    let row = 0;
    for (const [i, inputs] of micro.entries()) {
      const rows = imageParts[i].shape[0];
      if (textParts[i].shape[0] !== rows) throw new Llm2ClipError('E_SHAPE', `micro-batch ${i}: ${rows} images but ${textParts[i].shape[0]} captions`, { field: 'microBatch' });
      const sides: Array<[ContrastiveTower, tf.Tensor, () => tf.Tensor | Promise<tf.Tensor>]> = [];
      if (imageTrains) sides.push([image, imageGrad, () => inputs.image()]);
      if (textTrains) sides.push([text, textGrad, () => inputs.text()]);
      for (const [tower, featureGrad, make] of sides) {
        const input = await make();
        const slice = tf.slice(featureGrad, [row, 0], [rows, -1]);
        try {
          const part = computeGradients(tower.stores as ParameterStore[], () => tf.sum(tf.mul(tower.forward(input), slice)) as tf.Scalar);
          part.loss.dispose();
          accumulateGradients(grads, part.grads);
          disposeGradients(part.grads);
        } finally {
          input.dispose();
          slice.dispose();
        }
      }
      row += rows;
    }
    return { loss, grads };
  } catch (error) {
    disposeGradients(grads);
    throw error;
  } finally {
    for (const t of [...imageParts, ...textParts]) t.dispose();
    imageGrad?.dispose();
    textGrad?.dispose();
  }
}

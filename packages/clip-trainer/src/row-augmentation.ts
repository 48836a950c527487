import type * as tf from '@tensorflow/tfjs-core';
import { Rng, type ImageRef } from '@llm2clip/core';
import type { ImagePreprocessor, RandomResizedCropOptions } from '@llm2clip/vision';

/**
 * The augmentation generator of row `row` of a global batch: derived from the step's seed (one
 * number the trainer draws per step from its generator) and the row's index in the global batch,
 * not from how many crops were drawn before it. So a rank that preprocesses only its rows gets the
 * crops the single-process run gives those rows, and gradient caching can rebuild a micro-batch
 * with the same crops.
 */
export function rowAugmentationRng(stepSeed: number, row: number): Rng {
  return new Rng((stepSeed ^ Math.imul(row + 1, 0x9e3779b1)) | 0);
}

/** How many images are decoded and cropped at once by {@link augmentRows}. */
const IN_FLIGHT = 8;

/**
 * Random-resized crops of `images` (rows `firstRow…` of the global batch), each drawn from
 * {@link rowAugmentationRng}, stacked into `[rows, 3, size, size]` (caller owns the tensor).
 */
export async function augmentRows(
  pre: ImagePreprocessor,
  images: readonly ImageRef[],
  stepSeed: number,
  firstRow: number,
  options: RandomResizedCropOptions,
): Promise<tf.Tensor4D> {
  const out: Float32Array[] = new Array(images.length);
  for (let start = 0; start < images.length; start += IN_FLIGHT) {
    const jobs: Promise<void>[] = [];
    for (let i = start; i < Math.min(images.length, start + IN_FLIGHT); i++) {
      jobs.push(pre.randomResizedCrop(images[i], rowAugmentationRng(stepSeed, firstRow + i), options).then((pixels) => void (out[i] = pixels)));
    }
    await Promise.all(jobs);
  }
  return pre.stack(out);
}

import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@llm2clip/core';

/**
 * Weight initialisers drawing from the passed-in seeded {@link Rng}, so a seed gives the same
 * weights on every backend (tfjs's own random ops differ between backends).
 */
export function normalInit(rng: Rng, shape: number[], std: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.normalArray(size, std), shape, 'float32');
}

/** A tensor of zeros (for biases and LoRA B matrices). */
export function zerosInit(shape: number[]): tf.Tensor {
  return tf.zeros(shape, 'float32');
}

/** A tensor of ones (for norm scales). */
export function onesInit(shape: number[]): tf.Tensor {
  return tf.ones(shape, 'float32');
}

/** Kaiming-uniform as PyTorch's `nn.Linear` uses (bound = 1/sqrt(fanIn)), for LoRA A matrices. */
export function kaimingUniformInit(rng: Rng, shape: number[], fanIn: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const bound = 1 / Math.sqrt(fanIn);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = rng.uniform(-bound, bound);
  return tf.tensor(values, shape, 'float32');
}

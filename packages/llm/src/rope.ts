import * as tf from '@tensorflow/tfjs-core';
import { headDimOf, type LlamaConfig } from './config.js';

/**
 * Rotary position embeddings exactly as Hugging Face's Llama (`rotate_half` convention: the head
 * vector is split into two halves rather than interleaved pairs).
 *
 * Positions come from the attention mask: `position = cumsum(mask) − 1` for real tokens (padding
 * gets 1, as `transformers` fills it). This is what HF `generate` does with `position_ids`, and it
 * makes left- and right-padded copies of a sequence see the same positions, so padding never
 * changes a real token's output. (A plain HF forward without `position_ids` would instead number
 * left padding too; we deliberately do not.)
 */

/**
 * `inv_freq[i] = 1 / theta^(2i/d)` for `i < d/2`, with Llama 3 (`rope_type: "llama3"`) or linear
 * `rope_scaling` applied as `transformers` computes them.
 */
export function ropeInverseFrequencies(config: LlamaConfig): Float32Array {
  const dim = headDimOf(config);
  const half = dim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) out[i] = 1 / config.rope_theta ** ((2 * i) / dim);
  const scaling = config.rope_scaling;
  const type = scaling?.rope_type ?? scaling?.type ?? 'default';
  if (scaling == null || type === 'default') return out;
  const factor = scaling.factor ?? 1;
  if (type === 'linear') {
    // linear scaling divides positions by `factor`, the same as dividing every frequency
    for (let i = 0; i < half; i++) out[i] /= factor;
    return out;
  }
  // llama3: low frequencies are slowed by `factor`, high ones kept, the band between interpolated
  const lowFreqFactor = scaling.low_freq_factor ?? 1;
  const highFreqFactor = scaling.high_freq_factor ?? 4;
  const oldContext = scaling.original_max_position_embeddings ?? 8192;
  const lowFreqWavelen = oldContext / lowFreqFactor;
  const highFreqWavelen = oldContext / highFreqFactor;
  for (let i = 0; i < half; i++) {
    const freq = out[i];
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highFreqWavelen) continue;
    if (wavelen > lowFreqWavelen) {
      out[i] = freq / factor;
      continue;
    }
    const smooth = (oldContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    out[i] = (1 - smooth) * (freq / factor) + smooth * freq;
  }
  return out;
}

/**
 * Position ids `[batch, seq]` (float32) from a `[batch, seq]` attention mask: `cumsum(mask) − 1`
 * on real tokens, 1 on padding (HF's `masked_fill_(mask == 0, 1)`). The caller owns the result.
 */
export function ropePositionIds(attentionMask: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const mask = tf.cast(attentionMask, 'float32');
    const positions = tf.sub(tf.cumsum(mask, 1), 1);
    return tf.add(tf.mul(positions, mask), tf.sub(1, mask)) as tf.Tensor2D;
  });
}

/**
 * Cos/sin tables for a batch, `[batch, 1, seq, headDim]` so they broadcast over heads, and the
 * `[headDim, headDim]` signed permutation `rotation` with `x·rotation = rotate_half(x)`.
 * Rotating by a matmul instead of split + negate + concat keeps RoPE to one fast kernel (and its
 * gradient to another); with ±1/0 entries the product is exact.
 */
export interface RopeTables {
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
  rotation: tf.Tensor2D;
}

/** Builds {@link RopeTables} for `positions` `[batch, seq]`; the caller owns (disposes) them. */
export function ropeTables(positions: tf.Tensor2D, inverseFrequencies: Float32Array): RopeTables {
  return tf.tidy(() => {
    const [batch, seq] = positions.shape;
    const half = inverseFrequencies.length;
    const dim = 2 * half;
    const freqs = tf.mul(tf.reshape(positions, [batch, seq, 1]), tf.tensor3d(inverseFrequencies, [1, 1, half]));
    const angles = tf.concat([freqs, freqs], 2);
    const cos = tf.reshape(tf.cos(angles), [batch, 1, seq, dim]) as tf.Tensor4D;
    const sin = tf.reshape(tf.sin(angles), [batch, 1, seq, dim]) as tf.Tensor4D;
    // rotate_half(x)[j] = −x[j + d/2] for j < d/2, x[j − d/2] otherwise
    const values = new Float32Array(dim * dim);
    for (let j = 0; j < half; j++) {
      values[(j + half) * dim + j] = -1;
      values[j * dim + j + half] = 1;
    }
    return { cos, sin, rotation: tf.tensor2d(values, [dim, dim]) };
  });
}

/** HF's `rotate_half`: `[x1, x2] → [−x2, x1]` over the last axis (reference form, used in tests). */
export function rotateHalf(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [x1, x2] = tf.split(x, 2, -1);
    return tf.concat([tf.neg(x2), x1], -1);
  });
}

/** `x·cos + rotate_half(x)·sin` for `x` `[batch, heads, seq, headDim]`. */
export function applyRope(x: tf.Tensor4D, tables: RopeTables): tf.Tensor4D {
  return tf.tidy(() => {
    const [batch, heads, seq, dim] = x.shape;
    const rotated = tf.reshape(tf.matMul(tf.reshape(x, [batch * heads * seq, dim]) as tf.Tensor2D, tables.rotation), x.shape);
    return tf.add(tf.mul(x, tables.cos), tf.mul(rotated, tables.sin)) as tf.Tensor4D;
  });
}

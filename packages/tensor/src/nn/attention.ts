import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';

/** Value added to attention scores at masked positions (finite, so fully masked rows stay NaN-free). */
export const MASKED_SCORE = -1e9;

/** `[batch, seq, heads·headDim]` → `[batch, heads, seq, headDim]`. */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  const [batch, seq, width] = x.shape;
  return tf.transpose(tf.reshape(x, [batch, seq, heads, width / heads]), [0, 2, 1, 3]);
}

/** `[batch, heads, seq, headDim]` → `[batch, seq, heads·headDim]`. */
export function mergeHeads(x: tf.Tensor): tf.Tensor3D {
  const [batch, heads, seq, headDim] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [batch, seq, heads * headDim]);
}

/**
 * Additive attention bias `[batch, 1, query, key]` (or `[batch, 1, 1, key]` when only padding is masked): 0 where a query may attend to a key,
 * {@link MASKED_SCORE} where not. `attentionMask` is `[batch, seq]` with 1 for real tokens and 0 for
 * padding; `causal` additionally hides later keys. Bidirectional models pass `causal: false` and
 * mask padding only.
 */
export function attentionBias(attentionMask: tf.Tensor2D, causal: boolean, slidingWindow?: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [batch, seq] = attentionMask.shape;
    let allowed: tf.Tensor = tf.reshape(tf.cast(attentionMask, 'float32'), [batch, 1, 1, seq]);
    if (causal || slidingWindow !== undefined) {
      const rows = tf.reshape(tf.range(0, seq, 1, 'int32'), [seq, 1]);
      const cols = tf.reshape(tf.range(0, seq, 1, 'int32'), [1, seq]);
      let structure: tf.Tensor = tf.ones([seq, seq], 'float32');
      if (causal) structure = tf.mul(structure, tf.cast(tf.lessEqual(cols, rows), 'float32'));
      if (slidingWindow !== undefined) structure = tf.mul(structure, tf.cast(tf.greater(cols, tf.sub(rows, slidingWindow)), 'float32'));
      allowed = tf.mul(allowed, tf.reshape(structure, [1, 1, seq, seq]));
    }
    // shape is [batch, 1, 1, key] for padding-only masks and [batch, 1, query, key] otherwise
    return tf.mul(tf.sub(1, allowed), MASKED_SCORE) as tf.Tensor4D;
  });
}

/**
 * `softmax(q·kᵀ/√d + bias)·v` for `[batch, heads, seq, headDim]` inputs; `bias` broadcasts to
 * `[batch, heads, query, key]`.
 *
 * Grouped-query attention: when `k` and `v` have fewer heads than `q` (`kvHeads` dividing
 * `heads`), query head `h` attends with key/value head `⌊h / (heads/kvHeads)⌋`, exactly as
 * Hugging Face's `repeat_kv` — but without materialising the repeated keys and values: the query
 * heads of one group are folded into the query axis (`[batch, kvHeads, groups·seq, headDim]`), so
 * both products run once per kv head (tiling is by far the slowest kernel on the wasm backends).
 */
export function scaledDotProductAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias?: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => {
    const [batch, heads, queryLength, headDim] = q.shape;
    const kvHeads = k.shape[1];
    const keyLength = k.shape[2];
    if (heads % kvHeads !== 0 || v.shape[1] !== kvHeads) {
      throw new Llm2ClipError('E_SHAPE', `query heads ${heads} must be a multiple of key/value heads ${kvHeads} (values: ${v.shape[1]})`);
    }
    const groups = heads / kvHeads;
    const grouped = tf.reshape(tf.mul(q, 1 / Math.sqrt(headDim)), [batch, kvHeads, groups * queryLength, headDim]);
    let scores: tf.Tensor = tf.reshape(tf.matMul(grouped, k, false, true), [batch, heads, queryLength, keyLength]);
    if (bias !== undefined) scores = tf.add(scores, bias);
    const weights = tf.reshape(tf.softmax(scores), [batch, kvHeads, groups * queryLength, keyLength]);
    return tf.reshape(tf.matMul(weights, v), [batch, heads, queryLength, headDim]) as tf.Tensor4D;
  });
}

import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError, type Rng } from '@llm2clip/core';
import type { LlmEmbedder, TokenizedText } from '@llm2clip/llm';

/**
 * Splits inputs into forward passes of similar length: indices are sorted by token count and cut
 * greedily so that each pass holds at most `tokensPerPass` padded tokens (rows × longest row;
 * a single longer row gets a pass of its own). Short captions are then never padded to the length
 * of long ones, and the activation memory of one pass stays bounded.
 */
export function lengthGroups(items: readonly TokenizedText[], tokensPerPass: number): number[][] {
  if (!(tokensPerPass >= 1)) throw new Llm2ClipError('E_CONFIG', `tokensPerPass must be positive, got ${tokensPerPass}`, { field: 'tokensPerPass' });
  const order = items.map((_, i) => i).sort((a, b) => items[a].ids.length - items[b].ids.length || a - b);
  const groups: number[][] = [];
  let current: number[] = [];
  for (const index of order) {
    // sorted ascending, so the newest row is the longest of its pass
    if (current.length > 0 && (current.length + 1) * items[index].ids.length > tokensPerPass) {
      groups.push(current);
      current = [];
    }
    current.push(index);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Options of {@link embedInLengthGroups}. */
export interface LengthGroupOptions {
  /** Padded tokens per forward pass. Default 2048. */
  tokensPerPass?: number;
  /** Training mode (LoRA dropout). Default false. */
  training?: boolean;
  /** Seeded generator for dropout. */
  rng?: Rng;
}

/** Pooled embeddings `[rows.length, hidden]` of `items[rows]` in one forward pass (caller owns). */
export function embedRows(embedder: LlmEmbedder, items: readonly TokenizedText[], rows: readonly number[], options: { training?: boolean; rng?: Rng } = {}): tf.Tensor2D {
  const batch = embedder.tokenizer.pad(rows.map((row) => items[row]), { padding: embedder.options.padding });
  return embedder.embedTensor(batch, options);
}

/**
 * Pooled embeddings `[n, hidden]` of tokenized inputs, rows in input order, computed in the
 * passes of {@link lengthGroups}. Differentiable; the caller owns the result.
 */
export function embedInLengthGroups(embedder: LlmEmbedder, items: readonly TokenizedText[], options: LengthGroupOptions = {}): tf.Tensor2D {
  const { tokensPerPass = 2048, training = false, rng } = options;
  const groups = lengthGroups(items, tokensPerPass);
  return tf.tidy(() => {
    const parts = groups.map((rows) => embedRows(embedder, items, rows, { training, rng }));
    const sorted = parts.length === 1 ? parts[0] : tf.concat(parts, 0);
    return tf.gather(sorted, tf.tensor1d(inversePermutation(groups.flat()), 'int32')) as tf.Tensor2D;
  });
}

/** `inverse[order[i]] = i`. */
export function inversePermutation(order: readonly number[]): Int32Array {
  const inverse = new Int32Array(order.length);
  order.forEach((row, position) => {
    inverse[row] = position;
  });
  return inverse;
}

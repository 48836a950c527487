import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@llm2clip/core';
import type { LlmEmbedder, TokenizedText } from '@llm2clip/llm';

/** Options of {@link embedInLengthGroups}. */
export interface LengthGroupOptions {
  /** Number of forward passes the inputs are split into (by length). Default 3. */
  groups?: number;
  /** Training mode (LoRA dropout). Default false. */
  training?: boolean;
  /** Seeded generator for dropout. */
  rng?: Rng;
}

/**
 * Pooled embeddings `[n, hidden]` of tokenized inputs, rows in input order. The inputs are sorted
 * by token count and run in `groups` forward passes, so short captions are not padded to the
 * length of long ones (stage-1 batches mix ~15-token and ~190-token captions, and padding would
 * otherwise dominate the cost). Differentiable; the caller owns the result.
 */
export function embedInLengthGroups(embedder: LlmEmbedder, items: readonly TokenizedText[], options: LengthGroupOptions = {}): tf.Tensor2D {
  const { groups = 3, training = false, rng } = options;
  const count = items.length;
  const order = items.map((_, i) => i).sort((a, b) => items[a].ids.length - items[b].ids.length || a - b);
  const groupSize = Math.max(1, Math.ceil(count / Math.max(1, groups)));
  return tf.tidy(() => {
    const parts: tf.Tensor2D[] = [];
    for (let start = 0; start < count; start += groupSize) {
      const rows = order.slice(start, start + groupSize);
      const batch = embedder.tokenizer.pad(rows.map((row) => items[row]), { padding: embedder.options.padding });
      parts.push(embedder.embedTensor(batch, { training, rng }));
    }
    const sorted = parts.length === 1 ? parts[0] : tf.concat(parts, 0);
    const inverse = new Int32Array(count);
    order.forEach((row, position) => {
      inverse[row] = position;
    });
    return tf.gather(sorted, tf.tensor1d(inverse, 'int32')) as tf.Tensor2D;
  });
}

import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@llm2clip/core';
import { accumulateGradients, computeGradients, disposeGradients, type ParameterStore } from '@llm2clip/tensor';
import type { LlmEmbedder, TokenizedText } from '@llm2clip/llm';
import { embedRows, inversePermutation, lengthGroups } from './length-groups.js';

/** Loss and gradients of one contrastive step (the caller disposes the gradients). */
export interface ContrastiveGradients {
  /** Loss value. */
  loss: number;
  /** Gradient of each trainable weight of the stores, by name. */
  grads: Map<string, tf.Tensor>;
  /** Forward passes the inputs were split into. */
  passes: number;
}

/**
 * Gradients of a loss over the embeddings of many inputs, in bounded memory (GradCache, Gao et
 * al. 2021). A contrastive loss couples every embedding of the batch, so the batch cannot be cut
 * into independent micro-batches; instead:
 *
 * 1. embed all inputs without a tape, in the passes of {@link lengthGroups};
 * 2. take the loss and its gradient `g = ∂loss/∂embeddings` (cheap: `[n, hidden]`);
 * 3. re-run each pass with a tape and back-propagate `sum(embeddings ⊙ g)`, accumulating weights'
 *    gradients.
 *
 * The result is the full-batch gradient, with the activations of one pass alive at a time, for
 * one extra forward pass. Dropout is replayed exactly: each pass draws one seed from `rng` and
 * uses a generator from it in both runs. When everything fits in one pass the plain tape is used.
 */
export function contrastiveGradients(
  stores: ParameterStore | ParameterStore[],
  embedder: LlmEmbedder,
  items: readonly TokenizedText[],
  lossOfEmbeddings: (embeddings: tf.Tensor2D) => tf.Scalar,
  options: { tokensPerPass: number; training: boolean; rng: Rng },
): ContrastiveGradients {
  const groups = lengthGroups(items, options.tokensPerPass);
  const seeds = groups.map(() => options.rng.int(0, 0x7fffffff));
  const passOptions = (g: number) => ({ training: options.training, rng: new Rng(seeds[g]) });
  const order = groups.flat();
  if (groups.length === 1) {
    const { loss, grads } = computeGradients(stores, () =>
      lossOfEmbeddings(tf.gather(embedRows(embedder, items, groups[0], passOptions(0)), tf.tensor1d(inversePermutation(order), 'int32')) as tf.Tensor2D),
    );
    const value = loss.dataSync()[0];
    loss.dispose();
    return { loss: value, grads, passes: 1 };
  }
  // 1–2: embeddings without a tape, then the loss gradient with respect to them
  const { value, embeddingGrads } = tf.tidy(() => {
    const sorted = tf.concat(groups.map((rows, g) => tf.tidy(() => embedRows(embedder, items, rows, passOptions(g)))), 0);
    const embeddings = tf.gather(sorted, tf.tensor1d(inversePermutation(order), 'int32')) as tf.Tensor2D;
    const { value: lossValue, grad } = tf.valueAndGrad((e: tf.Tensor) => lossOfEmbeddings(e as tf.Tensor2D))(embeddings);
    // gradient rows in pass order, one slice per pass
    const inPassOrder = tf.gather(grad, tf.tensor1d(Int32Array.from(order), 'int32'));
    return { value: lossValue, embeddingGrads: tf.split(inPassOrder, groups.map((rows) => rows.length), 0) };
  });
  const loss = value.dataSync()[0];
  value.dispose();
  // 3: per pass, back-propagate the cached embedding gradient through the model
  const grads = backpropagatePasses(
    stores,
    embedder,
    items,
    groups.map((rows, g) => ({ rows, options: passOptions(g), embeddingGrad: embeddingGrads[g] })),
  );
  return { loss, grads, passes: groups.length };
}

/** One pass of step 3 of GradCache: its rows, its forward options (dropout replay), and `∂loss/∂(its embeddings)`. */
export interface CachedPass {
  rows: readonly number[];
  options: { training: boolean; rng: Rng };
  embeddingGrad: tf.Tensor;
}

/**
 * Step 3 of GradCache: re-runs each pass with a tape and back-propagates its cached embedding
 * gradient (`sum(embeddings ⊙ g)`), summing the weights' gradients over the passes. Disposes the
 * passes' `embeddingGrad`s; returns the summed gradients (the caller disposes them).
 */
export function backpropagatePasses(
  stores: ParameterStore | ParameterStore[],
  embedder: LlmEmbedder,
  items: readonly TokenizedText[],
  passes: readonly CachedPass[],
): Map<string, tf.Tensor> {
  const total = new Map<string, tf.Tensor>();
  try {
    for (const pass of passes) {
      const { loss: surrogate, grads } = computeGradients(stores, () => tf.sum(tf.mul(embedRows(embedder, items, pass.rows, pass.options), pass.embeddingGrad)) as tf.Scalar);
      surrogate.dispose();
      accumulateGradients(total, grads);
      disposeGradients(grads);
    }
  } catch (error) {
    disposeGradients(total);
    throw error;
  } finally {
    tf.dispose(passes.map((pass) => pass.embeddingGrad));
  }
  return total;
}

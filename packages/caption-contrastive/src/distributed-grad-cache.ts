import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@llm2clip/core';
import type { ParameterStore } from '@llm2clip/tensor';
import type { LlmEmbedder, TokenizedText } from '@llm2clip/llm';
import { allGatherWithGrad } from '@llm2clip/distributed';
import { assignPasses, type DataParallelGroup } from './data-parallel.js';
import { backpropagatePasses, type ContrastiveGradients } from './grad-cache.js';
import { embedRows, inversePermutation, lengthGroups } from './length-groups.js';

/**
 * {@link contrastiveGradients} across the ranks of a data-parallel run (GradCache with
 * open_clip's `gather_with_grad`). Every rank holds the same global `items` and the same `rng`
 * state; then:
 *
 * 1. the global batch is cut into the same length-sorted passes as in one process, with one
 *    dropout seed per pass drawn from `rng` in the same order, and the passes are dealt to the
 *    ranks ({@link assignPasses}); each rank embeds its passes without a tape;
 * 2. the rows of all ranks are gathered with a gradient (`allGatherWithGrad`) and put back into
 *    global order; `localLoss` (this rank's share, e.g. its query rows against all documents)
 *    is differentiated with respect to this rank's rows — the gather's backward pass sums the
 *    gradient over ranks, so each rank gets `∂(Σ_ranks loss)/∂(its rows)`;
 * 3. each rank re-runs its passes with a tape and back-propagates that gradient.
 *
 * Returns this rank's loss share and its weight gradients (the sum over its passes); summing both
 * over ranks gives the one-process loss and gradient. The rows of a pass see exactly the dropout
 * masks they see in one process. Every rank must call it at the same step.
 */
export function distributedContrastiveGradients(
  stores: ParameterStore | ParameterStore[],
  embedder: LlmEmbedder,
  items: readonly TokenizedText[],
  localLoss: (embeddings: tf.Tensor2D) => tf.Scalar,
  options: { tokensPerPass: number; training: boolean; rng: Rng; group: DataParallelGroup },
): ContrastiveGradients {
  const { group } = options;
  const groups = lengthGroups(items, options.tokensPerPass);
  const seeds = groups.map(() => options.rng.int(0, 0x7fffffff));
  const passOptions = (g: number) => ({ training: options.training, rng: new Rng(seeds[g]) });
  const owners = assignPasses(
    groups.map((rows) => rows.length * Math.max(...rows.map((row) => items[row].ids.length))),
    group.worldSize,
  );
  const mine = owners[group.rank];
  // global row index of each gathered row: rank 0's passes' rows, then rank 1's, …
  const gatheredOrder = owners.flatMap((passes) => passes.flatMap((g) => groups[g]));
  const dim = embedder.dim;
  const { value, embeddingGrads } = tf.tidy(() => {
    const parts = mine.map((g) => tf.tidy(() => embedRows(embedder, items, groups[g], passOptions(g))));
    const rows = parts.length === 0 ? tf.zeros([0, dim]) : parts.length === 1 ? parts[0] : tf.concat(parts, 0);
    const { value: lossValue, grad } = tf.valueAndGrad((local: tf.Tensor) => {
      const gathered = allGatherWithGrad(local);
      const global = tf.gather(gathered, tf.tensor1d(inversePermutation(gatheredOrder), 'int32')) as tf.Tensor2D;
      return localLoss(global);
    })(rows);
    return { value: lossValue, embeddingGrads: mine.length === 0 ? [] : tf.split(grad, mine.map((g) => groups[g].length), 0) };
  });
  const loss = value.dataSync()[0];
  value.dispose();
  const grads = backpropagatePasses(
    stores,
    embedder,
    items,
    mine.map((g, k) => ({ rows: groups[g], options: passOptions(g), embeddingGrad: embeddingGrads[k] })),
  );
  return { loss, grads, passes: groups.length };
}

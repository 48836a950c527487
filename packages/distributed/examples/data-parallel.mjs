// A data-parallel CLIP-style training loop with @llm2clip/distributed (README "Example").
//
//   node examples/data-parallel.mjs                                              one process
//   mpirun -np 2 --allow-run-as-root --oversubscribe node examples/data-parallel.mjs   two ranks
//
// Each rank embeds its own rows, gathers every rank's embeddings with a gradient for the
// contrastive loss (open_clip's local_loss + gather_with_grad), averages the gradients and
// steps AdamW. Both runs print the same losses: the global batch is the same.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@llm2clip/core';
import { initBackend, ParameterStore, normalInit, computeGradients, AdamW } from '@llm2clip/tensor';
import { initDistributed, broadcastParameters, allGatherWithGrad, allReduceBucketed, allReduce, finalizeDistributed } from '@llm2clip/distributed';

await initBackend({ backend: 'cpu', log: () => {} });
const { rank, worldSize, isRoot } = initDistributed();

// The same model on every rank: rank 0's initial weights win.
const params = new ParameterStore();
const init = normalInit(new Rng(1000 + rank), [8, 4], 0.3); // different per rank on purpose
params.add('image_proj.weight', init);
init.dispose();
await broadcastParameters(params);

const globalBatch = 8;
const local = globalBatch / worldSize;
const optimizer = new AdamW({ weightDecay: 0 });
for (let step = 0; step < 5; step++) {
  // this rank's slice of the global batch (a real trainer shards its data source by rank)
  const rows = Array.from({ length: local }, (_, i) => rank * local + i);
  const pixels = tf.tensor2d(rows.flatMap((r) => Array.from({ length: 8 }, (_, j) => Math.sin(r * 1.7 + j + step))), [local, 8]);
  const texts = tf.tensor2d(rows.flatMap((r) => Array.from({ length: 4 }, (_, j) => Math.cos(r * 0.9 + j))), [local, 4]);
  const { loss, grads } = computeGradients(params, () => {
    const image = tf.matMul(pixels, params.get('image_proj.weight'));
    const allImage = allGatherWithGrad(image);
    const allText = allGatherWithGrad(texts);
    const labels = tf.oneHot(tf.tensor1d(rows, 'int32'), globalBatch);
    const ce = (logits) => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), labels), 1)));
    // the mean over the global batch: each rank's local mean, scaled by its share
    return tf.mul(tf.div(tf.add(ce(tf.matMul(image, allText, false, true)), ce(tf.matMul(texts, allImage, false, true))), 2), 1 / worldSize);
  });
  const summed = await allReduceBucketed(grads, { op: 'sum' });
  optimizer.apply(params, summed, 0.05);
  const globalLoss = await allReduce(loss, 'sum');
  if (isRoot) console.log(`step ${step} loss ${globalLoss.dataSync()[0].toFixed(6)}`);
  [pixels, texts, loss, globalLoss, ...grads.values(), ...summed.values()].forEach((t) => t.dispose());
}
await finalizeDistributed();

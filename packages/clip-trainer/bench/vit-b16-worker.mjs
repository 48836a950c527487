// One child process of bench/vit-b16-step.mjs: times stage-2 training steps of a ViT-B/16-shaped
// tower at 224 px (fresh 512-d projection) + the LLM2CLIP adapter (4 blocks over a `textDim`
// teacher embedding) with the CLIP loss, AdamW (decay groups, layer decay 0.85), grad clipping.
// Inputs are random (no data loading): this measures the step itself. Prints one JSON line.
// Usage: node bench/vit-b16-worker.mjs <batch> <steps> [textDim=2048] [backend=auto] [microBatch]
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@llm2clip/core';
import { AdamW, ParameterStore, clipGradNorm, disposeGradients, ensureGradientsRegistered, initBackend } from '@llm2clip/tensor';
import { ClipVisionModel, layerDecayScale, noWeightDecay } from '@llm2clip/vision';
import { LOGIT_SCALE, TextAdapter, contrastiveGradients } from '../dist/index.js';

const [batch, steps, textDim = 2048, backendArg = 'auto', microArg] = process.argv.slice(2);
const B = Number(batch);
const S = Number(steps);
const D = Number(textDim);
const micro = microArg !== undefined ? Number(microArg) : B;
if (!(B >= 2)) throw new Error('the contrastive loss needs a batch of at least 2');
const info = await initBackend({ ...(backendArg === 'auto' ? {} : { backend: backendArg }), log: () => {} });
await ensureGradientsRegistered();

const rng = new Rng(0);
const vision = ClipVisionModel.create({ image_size: 224, patch_size: 16, hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, projection_dim: 512 }, rng);
vision.resetProjection(512, rng);
const adapter = TextAdapter.create({ inputDim: D, outputDim: 512 }, rng);
const logitStore = new ParameterStore();
logitStore.add(LOGIT_SCALE, tf.scalar(Math.log(1 / 0.07)));
const stores = [vision.parameters, adapter.parameters, logitStore];
const optimizer = new AdamW({ beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.05, groupOf: (name) => ({ weightDecay: noWeightDecay(name) ? 0 : undefined, lrScale: layerDecayScale(name, 12, 0.85) }) });
const image = { stores: [vision.parameters], forward: (x) => vision.forward(x) };
const text = { stores: [adapter.parameters], forward: (x) => adapter.forward(x) };
const pixels = Float32Array.from(rng.normalArray(B * 3 * 224 * 224));
const embeddings = Float32Array.from(rng.normalArray(B * D));

const seconds = [];
for (let step = 0; step < S; step++) {
  const started = performance.now();
  const parts = [];
  for (let start = 0; start < B; start += micro) {
    const end = Math.min(B, start + micro);
    parts.push({
      image: () => tf.tensor4d(pixels.subarray(start * 3 * 224 * 224, end * 3 * 224 * 224), [end - start, 3, 224, 224]),
      text: () => tf.tensor2d(embeddings.subarray(start * D, end * D), [end - start, D]),
    });
  }
  const { grads } = await contrastiveGradients(image, text, logitStore, parts);
  clipGradNorm(grads, 5);
  optimizer.apply(stores, grads, 1e-5);
  disposeGradients(grads);
  tf.tidy(() => logitStore.get(LOGIT_SCALE).assign(tf.clipByValue(logitStore.get(LOGIT_SCALE), 0, Math.log(100))));
  seconds.push((performance.now() - started) / 1000);
}
const steady = seconds.length > 1 ? seconds.slice(1) : seconds;
const mean = steady.reduce((a, b) => a + b, 0) / steady.length;
console.log(JSON.stringify({ impl: 'ts', backend: info.name, threads: info.threads, batch: B, microBatch: micro, textDim: D, secondsPerStep: seconds, imagesPerSecond: B / mean, peakRssMiB: process.resourceUsage().maxRSS / 1024 }));

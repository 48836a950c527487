// One process of bench/data-parallel.mjs: a stage-2 run at the demo size (64 px, patch 8, width
// 128, 4 layers, LLM2CLIP adapter on a 256-d teacher, global batch 64) in the process group it is
// started in (plain node: 1 rank; mpirun -np 2: 2 ranks, 32 rows each), then, at world size > 1,
// the all-reduce of a gradient of this model's size (the same bucketed call the trainer makes).
// Rank 0 writes the timings to argv[2].
//   node bench/data-parallel-worker.mjs out.json steps threads
import { renameSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, embeddingMatrix, fingerprint } from '@llm2clip/core';
import { initBackend } from '@llm2clip/tensor';
import { ClipVisionModel } from '@llm2clip/vision';
import { allReduceBucketed, finalizeDistributed, initDistributed } from '@llm2clip/distributed';
import { EmbeddingCache, TextAdapter, embedCaptions, trainClip } from '../dist/index.js';

const [outPath, stepsArg, threadsArg] = process.argv.slice(2);
const steps = Number(stepsArg ?? 4);
const threads = Number(threadsArg ?? 1);
const group = initDistributed();
const backend = await initBackend({ threads, kernelThreads: threads, log: () => {} });

const batchSize = 64;
const teacherDim = 256;
const words = ['a', 'the', 'red', 'green', 'blue', 'circle', 'square', 'on', 'left', 'right', 'small', 'large'];
const rng = new Rng(0);
const samples = Array.from({ length: batchSize * 2 }, (_, i) => {
  const data = new Uint8Array(64 * 64 * 3);
  for (let j = 0; j < data.length; j++) data[j] = rng.int(0, 255);
  const caption = () => Array.from({ length: 6 + rng.int(0, 20) }, () => rng.pick(words)).join(' ');
  return { key: String(i), image: { kind: 'raw', width: 64, height: 64, channels: 3, data }, captions: [caption(), caption()], captionKinds: ['short', 'long'] };
});
const source = { name: 'bench', size: samples.length, async *samples() { yield* samples; }, [Symbol.asyncIterator]() { return this.samples(); }, shard() { return this; } };
const teacher = {
  dim: teacherDim,
  async embed(texts) { return embeddingMatrix(texts.length, teacherDim, new Rng(texts.length).normalArray(texts.length * teacherDim)); },
  describe() { return { name: 'random', fingerprint: fingerprint('random') }; },
};
const cacheDir = await mkdtemp(join(tmpdir(), `bench-dp-cache-${group.rank}-`));
await embedCaptions({ source, embedder: teacher, outDir: cacheDir });
const cache = await EmbeddingCache.open(cacheDir);
const vision = ClipVisionModel.create({ image_size: 64, patch_size: 8, hidden_size: 128, intermediate_size: 512, num_hidden_layers: 4, num_attention_heads: 4, projection_dim: 128 }, new Rng(1));
const adapter = TextAdapter.create({ inputDim: teacherDim, outputDim: 128, numBlocks: 4 }, new Rng(2));

const stamps = [];
const started = performance.now();
const result = await trainClip({
  source,
  vision,
  text: { kind: 'llm2clip', cache, adapter },
  batchSize,
  steps,
  warmupSteps: 0,
  processGroup: group,
  onProgress: (e) => e.unit === 'step' && stamps.push(performance.now()),
});
const perStep = stamps.map((t, i) => (t - (i === 0 ? started : stamps[i - 1])) / 1000);
const steady = perStep.slice(1);
const secondsPerStep = steady.reduce((a, b) => a + b, 0) / Math.max(1, steady.length);

// the gradient all-reduce alone: this model's parameter shapes, bucketed as the trainer does
const shapes = [...vision.parameters.entries(), ...adapter.parameters.entries()].map(([, v]) => v.shape);
const gradientFloats = shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0) + 1; // + logit scale
let allReduceSeconds = null;
if (group.worldSize > 1) {
  const grads = shapes.map((s) => tf.fill(s, 0.5));
  const times = [];
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    const reduced = await allReduceBucketed(grads, { op: 'mean' });
    times.push((performance.now() - t0) / 1000);
    tf.dispose(reduced);
  }
  tf.dispose(grads);
  allReduceSeconds = Math.min(...times.slice(1));
}
result.model.dispose();
await rm(cacheDir, { recursive: true, force: true });
if (group.isRoot) {
  const out = {
    worldSize: group.worldSize,
    backend: backend.name,
    threadsPerRank: backend.threads,
    requestedThreads: threads,
    batchSize,
    localBatch: batchSize / group.worldSize,
    perStep,
    secondsPerStep,
    gradientFloats,
    gradientTensors: shapes.length + 1,
    allReduceSeconds,
  };
  writeFileSync(`${outPath}.tmp`, JSON.stringify(out));
  renameSync(`${outPath}.tmp`, outPath);
}
await finalizeDistributed();

// One process of bench/data-parallel.mjs: stage-1 caption-contrastive steps at the demo size
// (bench/demo-workload.mjs; global batch 32 triples, tokensPerPass 2048) in the process group it is
// started in (plain node: 1 rank; mpirun -np 2: the passes of every global batch dealt to 2 ranks).
// Rank 0 writes the per-step times to argv[2].
//   node bench/data-parallel-worker.mjs out.json steps threads
import { renameSync, writeFileSync } from 'node:fs';
import { Rng } from '@llm2clip/core';
import { initBackend } from '@llm2clip/tensor';
import { LlamaModel } from '@llm2clip/llm';
import { finalizeDistributed, initDistributed } from '@llm2clip/distributed';
import { trainCaptionContrastive } from '../dist/index.js';
import { DEMO_LLAMA_CONFIG, demoSamples, demoTokenizer } from './demo-workload.mjs';

const [outPath, stepsArg, threadsArg] = process.argv.slice(2);
const steps = Number(stepsArg ?? 5);
const threads = Number(threadsArg ?? 1);
const group = initDistributed();
const backend = await initBackend({ threads, kernelThreads: threads, log: () => {} });
const batchSize = 32;
const tokensPerPass = 2048;

const model = LlamaModel.create(DEMO_LLAMA_CONFIG, new Rng(2));
const stamps = [];
const started = performance.now();
const passes = [];
const result = await trainCaptionContrastive({
  model,
  tokenizer: demoTokenizer(),
  samples: demoSamples(),
  steps,
  batchSize,
  maxLength: 192,
  tokensPerPass,
  metrics: { log: (r) => passes.push(r.passes) },
  onStep: () => {
    stamps.push(performance.now());
  },
});
result.embedder.dispose();
const perStep = stamps.map((t, i) => (t - (i === 0 ? started : stamps[i - 1])) / 1000);
const steady = perStep.slice(1);
if (group.isRoot) {
  const out = {
    worldSize: group.worldSize,
    backend: backend.name,
    threadsPerRank: backend.threads,
    batchSize,
    tokensPerPass,
    passesPerStep: passes,
    perStep,
    secondsPerStep: steady.reduce((a, b) => a + b, 0) / Math.max(1, steady.length),
  };
  writeFileSync(`${outPath}.tmp`, JSON.stringify(out));
  renameSync(`${outPath}.tmp`, outPath);
}
await finalizeDistributed();

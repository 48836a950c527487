// Times stage-1 training steps (and causal-LM steps) at the demo's model size.
// Usage (after `pnpm build`): node bench/stage1-step.mjs [auto|cpu] ; env BATCH (default 32), STEPS (default 3), TOKENS_PER_PASS (default 2048).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@llm2clip/core';
import { ensureGradientsRegistered, initBackend } from '@llm2clip/tensor';
import { LlamaModel } from '@llm2clip/llm';
import { pretrainCausalLm, trainCaptionContrastive } from '../dist/index.js';
import { DEMO_LLAMA_CONFIG, demoSamples, demoTokenizer } from './demo-workload.mjs';

const mode = process.argv[2] ?? 'auto';
const batchSize = Number(process.env.BATCH ?? 32);
const steps = Number(process.env.STEPS ?? 3);
const tokensPerPass = Number(process.env.TOKENS_PER_PASS ?? 2048);
if (mode === 'cpu') {
  await ensureGradientsRegistered();
  await tf.setBackend('cpu');
} else {
  await initBackend();
}
console.log(`backend ${tf.getBackend()}, batch ${batchSize}`);

const tokenizer = demoTokenizer();
const samples = demoSamples();
const config = DEMO_LLAMA_CONFIG;

const clmModel = LlamaModel.create(config, new Rng(2));
const clmTimes = [];
await pretrainCausalLm({
  model: clmModel, tokenizer, texts: samples.flatMap((s) => s.captions), steps, batchSize, lr: 1e-3, maxLength: 192,
  metrics: { log: (r) => clmTimes.push(r.seconds) },
});
clmModel.dispose();
console.log(`clm step (batch ${batchSize} texts): ${clmTimes.map((t) => t.toFixed(2)).join(' ')} s`);

const model = LlamaModel.create(config, new Rng(2));
const times = [];
const result = await trainCaptionContrastive({
  model, tokenizer, samples, steps, batchSize, maxLength: 192, tokensPerPass,
  metrics: { log: (r) => times.push(`${r.seconds.toFixed(2)}s/${r.passes}p`) },
});
console.log(`stage-1 step (batch ${batchSize} triples = ${3 * batchSize} captions, tokensPerPass ${tokensPerPass}): ${times.join(' ')}`);
result.embedder.dispose();

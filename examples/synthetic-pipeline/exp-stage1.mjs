import { join } from 'node:path';
import { Rng } from '@llm2clip/core';
import { initBackend } from '@llm2clip/tensor';
import { openSyntheticSplit } from '@llm2clip/data';
import { LlamaModel, LlmTokenizer, LlmEmbedder } from '@llm2clip/llm';
import { trainCaptionContrastive } from '@llm2clip/caption-contrastive';
import { evaluateCra, craCaptionPairs } from '@llm2clip/eval';
const [lr, steps, batch, every] = process.argv.slice(2).map(Number);
await initBackend({ log: () => {} });
const run = '/work/main/runs/demo';
const collect = async (s) => { const o = []; for await (const x of s.samples()) o.push(x); return o; };
const train = await collect(await openSyntheticSplit(join(run, 'data'), 'train'));
const test = await collect(await openSyntheticSplit(join(run, 'data'), 'test'));
const { pairs } = await craCaptionPairs(test);
const tokenizer = await LlmTokenizer.fromDirectory(join(run, 'data'));
const model = await LlamaModel.fromPretrained(join(run, 'llm-base'));
const t0 = Date.now();
const res = await trainCaptionContrastive({ model, tokenizer, samples: train, lora: { r: 16, alpha: 32, dropout: 0.05 }, steps, batchSize: batch, lr, warmupSteps: Math.round(steps / 10), maxLength: 200, scale: 50, seed: 1,
  craEval: { every, evaluate: async (e, step) => { const r = await evaluateCra(e, pairs.slice(0, 250), { batchSize: 64 }); console.log('step', step, 'cra', r.cra.toFixed(1), 'q2g', r.queryToGallery.toFixed(1), ((Date.now() - t0) / 1000).toFixed(0), 's'); return r.cra; } },
  onProgress: (e) => { if (e.done % 10 === 0) console.log(e.done, JSON.stringify(e.values)); } });
console.log('losses', res.losses.filter((_, i) => i % 10 === 0).map((x) => x.toFixed(2)).join(' '));

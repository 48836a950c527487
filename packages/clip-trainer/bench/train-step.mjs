// Times stage-2 training steps at the demo size (64 px, patch 8, width 128, 4 layers, batch 64)
// for the LLM2CLIP text side and the CLIP-text-tower baseline.
// Usage: node bench/train-step.mjs [cpu|auto] [steps]   (build first: pnpm build)
import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, embeddingMatrix, fingerprint } from '@llm2clip/core';
import { initBackend } from '@llm2clip/tensor';
import { ClipTextModel, ClipTextTokenizer, ClipVisionModel } from '@llm2clip/vision';
import { EmbeddingCache, embedCaptions, trainClip } from '../dist/index.js';

const backend = process.argv[2] ?? 'auto';
const steps = Number(process.argv[3] ?? 3);
const batchSize = 64;
const teacherDim = 256;
if (backend === 'cpu') await initBackend({ backend: 'cpu', log: () => {} });
else console.log((await initBackend()).name ?? tf.getBackend());
console.log(`backend: ${tf.getBackend()}`);

const words = ['a', 'the', 'red', 'green', 'blue', 'circle', 'square', 'on', 'left', 'right', 'small', 'large'];
const rng = new Rng(0);
const samples = Array.from({ length: batchSize }, (_, i) => {
  const data = new Uint8Array(64 * 64 * 3);
  for (let j = 0; j < data.length; j++) data[j] = rng.int(0, 255);
  const caption = () => Array.from({ length: 6 + rng.int(0, 20) }, () => rng.pick(words)).join(' ');
  return { key: String(i), image: { kind: 'raw', width: 64, height: 64, channels: 3, data }, captions: [caption(), caption(), caption(), caption()], captionKinds: ['short', 'long', 'short', 'long'] };
});
const source = { name: 'bench', size: samples.length, async *samples() { yield* samples; }, [Symbol.asyncIterator]() { return this.samples(); }, shard() { return this; } };
const teacher = {
  dim: teacherDim,
  async embed(texts) { const r = new Rng(texts.length); return embeddingMatrix(texts.length, teacherDim, r.normalArray(texts.length * teacherDim)); },
  describe() { return { name: 'random', fingerprint: fingerprint('random') }; },
};
const cacheDir = await mkdtemp(join(tmpdir(), 'bench-cache-'));
await embedCaptions({ source, embedder: teacher, outDir: cacheDir });
const cache = await EmbeddingCache.open(cacheDir);
const vocab = {};
['<pad>', '<s>', '</s>', '<unk>', ...words].forEach((w, i) => (vocab[w] = i));
const tokenizer = ClipTextTokenizer.fromJson({ model: { type: 'WordLevel', vocab, unk_token: '<unk>' }, pre_tokenizer: { type: 'Whitespace' }, normalizer: null, post_processor: null, decoder: null, added_tokens: [] });
const visionConfig = { image_size: 64, patch_size: 8, hidden_size: 128, intermediate_size: 512, num_hidden_layers: 4, num_attention_heads: 4, projection_dim: 128 };

async function time(label, text) {
  const stamps = [];
  const started = performance.now();
  const result = await trainClip({ source, vision: ClipVisionModel.create(visionConfig, new Rng(1)), text, batchSize, steps, onProgress: (e) => e.unit === 'step' && stamps.push(performance.now()) });
  const perStep = stamps.map((t, i) => (t - (i === 0 ? started : stamps[i - 1])) / 1000);
  const steady = perStep.slice(1);
  console.log(`${label}: s/step ${perStep.map((s) => s.toFixed(2)).join(' ')} → steady ${(steady.reduce((a, b) => a + b, 0) / Math.max(1, steady.length)).toFixed(2)} s (${tf.getBackend()})`);
  result.model.dispose();
}
await time('llm2clip', { kind: 'llm2clip', cache });
const textModel = ClipTextModel.create({ ...tokenizer.configFields(), hidden_size: 128, intermediate_size: 512, num_hidden_layers: 4, num_attention_heads: 4, projection_dim: 128 }, new Rng(2));
await time('baseline', { kind: 'baseline', model: textModel, tokenizer });

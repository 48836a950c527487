// Images/s of a ViT-B/16-shaped CLIP vision tower at 224 px (hidden 768, 12 layers, 12 heads, MLP
// 3072, projection 512): inference (forward to the projection) and one training step (forward,
// mean-square loss on the features, backward, AdamW) — this package next to PyTorch on the same
// weights and input (saved to a temp CLIPVisionModelWithProjection directory that
// bench/torch_vit.py reads), in the same run. Also checks both give the same features.
// Usage: node bench/vit-b16.mjs [--batch 4] [--reps 2] [--torch-threads 1]   (build first; PyTorch is fastest here with 1 thread)
// Without /usr/bin/python3 + python3-torch the reference column says so. A few minutes on 2 cores.
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@llm2clip/core';
import { AdamW, computeGradients, disposeGradients, initBackend, writeSafetensors } from '@llm2clip/tensor';
import { ClipVisionModel } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
const batch = Number(args.batch ?? 4);
const reps = Number(args.reps ?? 2);
const torchThreads = (args['torch-threads'] ?? '1').split(',').map(Number);
const info = await initBackend({ log: () => {} });
const backend = info?.name ?? tf.getBackend();

const config = { image_size: 224, patch_size: 16, hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, projection_dim: 512 };
const model = ClipVisionModel.create(config, new Rng(0));
const dir = await mkdtemp(join(tmpdir(), 'llm2clip-vit-bench-'));
await model.save(dir);
const pixelData = new Rng(1).normalArray(batch * 3 * 224 * 224);
await writeSafetensors(join(dir, 'inputs.safetensors'), { pixel_values: { shape: [batch, 3, 224, 224], dtype: 'float32', data: pixelData } });
const pixels = tf.tensor4d(pixelData, [batch, 3, 224, 224]);

const seconds = (fn) => {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
};
// inference: one warm-up, then `reps` timed forwards
const first = model.forward(pixels);
const ours0 = first.dataSync().slice(0, 512);
first.dispose();
const infer = Array.from({ length: reps }, () => seconds(() => tf.dispose(model.forward(pixels).dataSync())));
// training: one warm-up step, then `reps` timed steps
const optimizer = new AdamW({ weightDecay: 0.05 });
const step = () => {
  const { loss, grads } = computeGradients(model.parameters, () => tf.mean(tf.square(model.forward(pixels))));
  optimizer.apply(model.parameters, grads, 1e-5);
  loss.dataSync();
  loss.dispose();
  disposeGradients(grads);
};
const train = Array.from({ length: reps + 1 }, () => seconds(step)).slice(1);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

const python = '/usr/bin/python3';
const references = torchThreads.map((threads) => {
  if (!existsSync(python)) return { error: 'no /usr/bin/python3' };
  const child = spawnSync(python, [join(here, 'torch_vit.py'), dir, join(dir, 'inputs.safetensors'), String(reps), String(threads)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const line = (child.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (child.status !== 0 || line === undefined) return { error: (child.stderr || `exit ${child.status}`).trim().split('\n').slice(-2).join(' | ') };
  return JSON.parse(line);
});
await rm(dir, { recursive: true, force: true });
pixels.dispose();
model.dispose();

const rate = (secs) => batch / mean(secs);
console.log(`ViT-B/16 @224, batch ${batch}, ${reps} timed reps after one warm-up (numbers taken on a shared machine are noisy)`);
console.log(`  @llm2clip/vision [${backend}]: inference ${rate(infer).toFixed(2)} img/s (${infer.map((s) => s.toFixed(2)).join(' ')} s), training step ${rate(train).toFixed(2)} img/s (${train.map((s) => s.toFixed(2)).join(' ')} s)`);
for (const r of references) {
  if (r.error !== undefined) {
    console.log(`  PyTorch: not measured (${r.error})`);
    continue;
  }
  let diff = 0;
  let norm = 0;
  r.features0.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - ours0[i]));
    norm = Math.max(norm, Math.abs(v));
  });
  console.log(`  PyTorch ${r.torch} (${r.threads} thread(s)): inference ${rate(r.inferSeconds).toFixed(2)} img/s, training step ${rate(r.trainSeconds).toFixed(2)} img/s; features agree to ${(diff / norm).toExponential(1)} relative`);
  console.log(`    ratio ours / PyTorch: inference ${(rate(infer) / rate(r.inferSeconds)).toFixed(2)}×, training ${(rate(train) / rate(r.trainSeconds)).toFixed(2)}×`);
}

#!/usr/bin/env node
// Builds a generated Llama-style decoder (weights filled in memory, nothing downloaded) on the
// `native` backend and runs forward passes: shows that a model larger than the 4 GB wasm heap
// loads and runs. Default: a 1.26B-parameter config (hidden 2048, 22 layers, intermediate 5632,
// 32 heads, vocab 32000, untied head) ≈ 5.0 GB of float32 weights; needs ~6 GB of free memory.
//
//   node scripts/decoder-forward.mjs                      # the 1.3B config, batch 1, seq 128
//   LAYERS=2 HIDDEN=256 INTERMEDIATE=704 VOCAB=1000 node scripts/decoder-forward.mjs   # quick check
//   env: LAYERS HIDDEN INTERMEDIATE HEADS KV_HEADS VOCAB SEQ BATCH RUNS LLM2CLIP_BACKEND
//
// Prints the parameter count, weight bytes, time to fill the weights, forward time per run,
// tokens/s, peak RSS, and checks that the logits are finite. Build the package first (pnpm build).
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, linear, rmsNorm, silu, attentionBias, scaledDotProductAttention, splitHeads, mergeHeads } from '../dist/index.js';

const env = (name, fallback) => Number(process.env[name] ?? fallback);
const config = {
  hidden: env('HIDDEN', 2048),
  layers: env('LAYERS', 22),
  intermediate: env('INTERMEDIATE', 5632),
  heads: env('HEADS', 32),
  kvHeads: env('KV_HEADS', env('HEADS', 32)),
  vocab: env('VOCAB', 32000),
};
const seq = env('SEQ', 128);
const batch = env('BATCH', 1);
const runs = env('RUNS', 2);
const headDim = config.hidden / config.heads;

const info = await initBackend({ backend: process.env.LLM2CLIP_BACKEND || 'native' });

// xorshift32 uniform in [-a, a] with a = 0.02·√3 (std 0.02, as Llama's initializer_range): fast
// enough to fill 1.3B weights in seconds.
let state = 0x9e3779b9;
function fill(size, scale) {
  const values = new Float32Array(size);
  const a = 0.02 * Math.sqrt(3) * scale;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    values[i] = ((state >>> 0) / 4294967296 - 0.5) * 2 * a;
  }
  return values;
}
const weight = (shape, scale = 1) => tf.tensor(fill(shape.reduce((p, q) => p * q, 1), scale), shape);
const ones = (n) => tf.ones([n]);

const started = performance.now();
const embed = weight([config.vocab, config.hidden]);
const layers = Array.from({ length: config.layers }, () => ({
  inputNorm: ones(config.hidden),
  q: weight([config.hidden, config.hidden]),
  k: weight([config.kvHeads * headDim, config.hidden]),
  v: weight([config.kvHeads * headDim, config.hidden]),
  o: weight([config.hidden, config.hidden]),
  postNorm: ones(config.hidden),
  gate: weight([config.intermediate, config.hidden]),
  up: weight([config.intermediate, config.hidden]),
  down: weight([config.hidden, config.intermediate]),
}));
const finalNorm = ones(config.hidden);
const head = weight([config.vocab, config.hidden]);
const fillSeconds = (performance.now() - started) / 1000;
const params = tf.memory().numBytes / 4;

// Rotary embeddings (rotate-half form, theta 10000) for positions 0..seq-1.
const [cos, sin] = tf.tidy(() => {
  const inv = tf.div(1, tf.pow(10000, tf.div(tf.range(0, headDim, 2, 'float32'), headDim)));
  const freqs = tf.matMul(tf.reshape(tf.range(0, seq, 1, 'float32'), [seq, 1]), tf.reshape(inv, [1, headDim / 2]));
  const angles = tf.concat([freqs, freqs], 1);
  return [tf.reshape(tf.cos(angles), [1, 1, seq, headDim]), tf.reshape(tf.sin(angles), [1, 1, seq, headDim])];
});
function rope(x) {
  const [first, second] = tf.split(x, 2, 3);
  return tf.add(tf.mul(x, cos), tf.mul(tf.concat([tf.neg(second), first], 3), sin));
}

function forward(ids) {
  return tf.tidy(() => {
    const bias = attentionBias(tf.ones([batch, seq]), true);
    let h = tf.gather(embed, ids);
    for (const layer of layers) {
      const x = rmsNorm(h, layer.inputNorm, 1e-5);
      const q = rope(splitHeads(linear(x, layer.q), config.heads));
      const k = rope(splitHeads(linear(x, layer.k), config.kvHeads));
      const v = splitHeads(linear(x, layer.v), config.kvHeads);
      h = tf.add(h, linear(mergeHeads(scaledDotProductAttention(q, k, v, bias)), layer.o));
      const y = rmsNorm(h, layer.postNorm, 1e-5);
      h = tf.add(h, linear(tf.mul(silu(linear(y, layer.gate)), linear(y, layer.up)), layer.down));
    }
    return linear(rmsNorm(h, finalNorm, 1e-5), head);
  });
}

const ids = tf.tensor2d(
  Array.from({ length: batch * seq }, (_, i) => (i * 7919) % config.vocab),
  [batch, seq],
  'int32',
);
const times = [];
let logits;
for (let r = 0; r < runs; r++) {
  logits?.dispose();
  const t0 = performance.now();
  logits = forward(ids);
  await logits.data();
  times.push((performance.now() - t0) / 1000);
}
const values = await logits.data();
const finite = values.every(Number.isFinite);
const peakRssGb = process.resourceUsage().maxRSS / 1024 / 1024;
const best = Math.min(...times);
console.log(
  JSON.stringify(
    {
      backend: info.name,
      threads: info.threads,
      config,
      batch,
      seq,
      parameters: params,
      weightGB: +((params * 4) / 1e9).toFixed(2),
      fillSeconds: +fillSeconds.toFixed(1),
      forwardSeconds: times.map((t) => +t.toFixed(2)),
      tokensPerSecond: +((batch * seq) / best).toFixed(1),
      gflopsPerSecond: +((2 * params * batch * seq) / best / 1e9).toFixed(1),
      logitsShape: logits.shape,
      logitsFinite: finite,
      peakRssGB: +peakRssGb.toFixed(2),
    },
    null,
    2,
  ),
);
if (!finite) {
  console.error('non-finite logits');
  process.exit(1);
}

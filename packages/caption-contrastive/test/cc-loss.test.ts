import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { AdamW, computeGradients, disposeGradients } from '@llm2clip/tensor';
import { LlamaModel, LlmEmbedder, LoraAdapter } from '@llm2clip/llm';
import { captionContrastiveLoss, captionTriples, contrastiveGradients, embedInLengthGroups, lengthGroups } from '../src/index.js';
import { tinyConfig, tinySamples, tinyTokenizer } from './fixtures.js';

function normalize(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function dot(a: number[], b: number[]): number {
  return a.reduce((s, x, i) => s + x * b[i], 0);
}

describe('captionContrastiveLoss', () => {
  it('matches a hand computation: scale·cos against [positives; hard negatives], target column i', () => {
    const q = [[1, 0, 0], [0, 2, 0]];
    const p = [[1, 1, 0], [0, 1, 1]];
    const n = [[0, 0, 1], [-1, 1, 0]];
    const scale = 5;
    const docs = [...p, ...n].map(normalize);
    let expected = 0;
    q.map(normalize).forEach((query, i) => {
      const scores = docs.map((d) => scale * dot(query, d));
      const logSumExp = Math.log(scores.reduce((s, x) => s + Math.exp(x), 0));
      expected += logSumExp - scores[i];
    });
    expected /= q.length;
    const loss = tf.tidy(() => captionContrastiveLoss(tf.tensor2d(q), tf.tensor2d(p), tf.tensor2d(n), scale).dataSync()[0]);
    expect(Math.abs(loss - expected)).toBeLessThan(1e-5);
    // without hard negatives the columns are the positives only
    let inBatch = 0;
    q.map(normalize).forEach((query, i) => {
      const scores = p.map(normalize).map((d) => scale * dot(query, d));
      inBatch += Math.log(scores.reduce((s, x) => s + Math.exp(x), 0)) - scores[i];
    });
    const lossNoNeg = tf.tidy(() => captionContrastiveLoss(tf.tensor2d(q), tf.tensor2d(p), undefined, scale).dataSync()[0]);
    expect(Math.abs(lossNoNeg - inBatch / 2)).toBeLessThan(1e-5);
  });

  it('uses scale 50 by default and checks shapes', () => {
    const a = tf.tensor2d([[1, 0], [0, 1]]);
    const value = tf.tidy(() => captionContrastiveLoss(a, a).dataSync()[0]);
    expect(value).toBeCloseTo(Math.log(1 + Math.exp(-50)), 6);
    expect(() => captionContrastiveLoss(a, tf.tensor2d([[1, 0, 0]]))).toThrow(/E_SHAPE/);
    a.dispose();
  });

  it('falls when LoRA trains on a fixed batch', () => {
    const tokenizer = tinyTokenizer();
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const lora = LoraAdapter.attach(model, { r: 8, alpha: 16, dropout: 0 }, new Rng(2));
    const embedder = new LlmEmbedder(model, tokenizer);
    const samples = tinySamples(8);
    const texts = [...samples.map((s) => s.captions[0]), ...samples.map((s) => s.captions[1]), ...samples.map((s, i) => samples[(i + 1) % 8].captions[1])];
    const items = texts.map((t) => tokenizer.tokenize(t));
    const optimizer = new AdamW({ weightDecay: 0 });
    const losses: number[] = [];
    for (let step = 0; step < 15; step++) {
      const { loss, grads } = computeGradients(lora.parameters, () => {
        const [q, p, n] = tf.split(embedInLengthGroups(embedder, items, { tokensPerPass: 64 }), 3, 0) as tf.Tensor2D[];
        return captionContrastiveLoss(q, p, n);
      });
      optimizer.apply(lora.parameters, grads, 5e-3);
      disposeGradients(grads);
      losses.push(loss.dataSync()[0]);
      loss.dispose();
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0] * 0.5);
    optimizer.dispose();
    embedder.dispose();
  });

  it('embeds in length groups with rows in input order', () => {
    const tokenizer = tinyTokenizer();
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const embedder = new LlmEmbedder(model, tokenizer);
    const items = tinySamples(5).flatMap((s) => s.captions).map((t) => tokenizer.tokenize(t));
    const [grouped, single] = tf.tidy(() => [embedInLengthGroups(embedder, items, { tokensPerPass: 40 }).dataSync(), embedInLengthGroups(embedder, items, { tokensPerPass: 1e6 }).dataSync()]);
    let max = 0;
    for (let i = 0; i < grouped.length; i++) max = Math.max(max, Math.abs(grouped[i] - single[i]));
    expect(max).toBeLessThan(1e-5);
    embedder.dispose();
  });

  it('cuts passes by padded-token budget, shortest first', () => {
    const tokenizer = tinyTokenizer();
    const items = ['a red cube', 'a', 'the image shows a small red cube left of a blue ball', 'red cube'].map((t) => tokenizer.tokenize(t));
    expect(lengthGroups(items, 8)).toEqual([[1, 3], [0], [2]]);
    expect(lengthGroups(items, 1000)).toEqual([[1, 3, 0, 2]]);
  });

  it('GradCache gives the full-batch gradient in several passes', () => {
    const tokenizer = tinyTokenizer();
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const lora = LoraAdapter.attach(model, { r: 4, alpha: 8, dropout: 0 }, new Rng(2));
    for (const [name, variable] of lora.parameters.entries()) if (name.includes('lora_B')) variable.assign(tf.fill(variable.shape, 0.02));
    const embedder = new LlmEmbedder(model, tokenizer);
    const items = tinySamples(4).flatMap((s) => s.captions.slice(0, 3)).map((t) => tokenizer.tokenize(t));
    const lossOf = (e: tf.Tensor2D) => {
      const [q, p, n] = tf.split(e, 3, 0) as tf.Tensor2D[];
      return captionContrastiveLoss(q, p, n);
    };
    const one = contrastiveGradients(lora.parameters, embedder, items, lossOf, { tokensPerPass: 1e6, training: true, rng: new Rng(3) });
    const many = contrastiveGradients(lora.parameters, embedder, items, lossOf, { tokensPerPass: 30, training: true, rng: new Rng(3) });
    expect(one.passes).toBe(1);
    expect(many.passes).toBeGreaterThan(2);
    expect(Math.abs(one.loss - many.loss)).toBeLessThan(1e-5);
    let maxDiff = 0;
    let maxAbs = 0;
    for (const [name, grad] of one.grads) {
      const a = grad.dataSync();
      const b = many.grads.get(name)!.dataSync();
      for (let i = 0; i < a.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
        maxAbs = Math.max(maxAbs, Math.abs(a[i]));
      }
    }
    expect(maxAbs).toBeGreaterThan(1e-4);
    expect(maxDiff).toBeLessThan(1e-4 * maxAbs + 1e-6);
    const before = tf.memory().numTensors;
    for (const r of [one, many]) for (const g of r.grads.values()) g.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
    embedder.dispose();
  });
  it('GradCache gives the exact full-batch gradient at an effective batch of 512 queries (1536 captions)', () => {
    const tokenizer = tinyTokenizer();
    const model = LlamaModel.create({ ...tinyConfig(), num_hidden_layers: 1 }, new Rng(1));
    const lora = LoraAdapter.attach(model, { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'] }, new Rng(2));
    for (const [name, variable] of lora.parameters.entries()) if (name.includes('lora_B')) variable.assign(tf.fill(variable.shape, 0.02));
    const embedder = new LlmEmbedder(model, tokenizer);
    const samples = tinySamples(512, 7);
    const triples = captionTriples(samples, samples.map((_, i) => i), new Rng(3));
    const texts = [...triples.map((t) => t.query), ...triples.map((t) => t.positive), ...triples.map((t) => t.hardNegative)];
    const items = texts.map((t) => tokenizer.tokenize(t, { maxLength: 5 }));
    const lossOf = (e: tf.Tensor2D) => {
      const [q, p, n] = tf.split(e, 3, 0) as tf.Tensor2D[];
      return captionContrastiveLoss(q, p, n);
    };
    // reference: one tape over the whole batch, no caching
    const full = computeGradients(lora.parameters, () => lossOf(embedder.embedTensor(tokenizer.pad(items), { training: false })));
    const cached = contrastiveGradients(lora.parameters, embedder, items, lossOf, { tokensPerPass: 1024, training: true, rng: new Rng(4) });
    expect(cached.passes).toBeGreaterThanOrEqual(4);
    expect(Math.abs(full.loss.dataSync()[0] - cached.loss)).toBeLessThan(1e-4);
    let maxDiff = 0;
    let maxAbs = 0;
    for (const [name, grad] of full.grads) {
      const a = grad.dataSync();
      const b = cached.grads.get(name)!.dataSync();
      for (let i = 0; i < a.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
        maxAbs = Math.max(maxAbs, Math.abs(a[i]));
      }
    }
    expect(maxAbs).toBeGreaterThan(1e-5);
    expect(maxDiff).toBeLessThan(1e-3 * maxAbs);
    tf.dispose([full.loss, ...full.grads.values(), ...cached.grads.values()]);
    embedder.dispose();
  });
});

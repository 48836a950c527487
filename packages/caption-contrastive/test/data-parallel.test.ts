import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { initDistributed } from '@llm2clip/distributed';
import { LlamaModel, LlmEmbedder, LoraAdapter } from '@llm2clip/llm';
import { assignPasses, captionContrastiveLoss, contrastiveGradients, distributedContrastiveGradients, localCaptionContrastiveLoss, rowBlock } from '../src/index.js';
import { tinyConfig, tinySamples, tinyTokenizer } from './fixtures.js';

describe('assignPasses', () => {
  it('deals every pass to exactly one rank, balancing cost, the same on every call', () => {
    const costs = [40, 10, 30, 30, 5, 48];
    const plan = assignPasses(costs, 2);
    expect(plan.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    const load = plan.map((passes) => passes.reduce((sum, p) => sum + costs[p], 0));
    expect(Math.abs(load[0] - load[1])).toBeLessThanOrEqual(10);
    expect(assignPasses(costs, 2)).toEqual(plan);
    expect(assignPasses([7], 3)).toEqual([[0], [], []]);
    expect(assignPasses(costs, 1)).toEqual([[0, 1, 2, 3, 4, 5]]);
    expect(() => assignPasses(costs, 0)).toThrow(/E_CONFIG/);
  });
});

describe('rowBlock', () => {
  it('splits rows into contiguous blocks covering the batch, as open_clip local_loss', () => {
    expect([0, 1].map((r) => rowBlock(4, r, 2))).toEqual([{ start: 0, count: 2 }, { start: 2, count: 2 }]);
    expect([0, 1, 2].map((r) => rowBlock(5, r, 3))).toEqual([{ start: 0, count: 2 }, { start: 2, count: 2 }, { start: 4, count: 1 }]);
    expect(rowBlock(1, 1, 2)).toEqual({ start: 1, count: 0 });
  });
});

describe('localCaptionContrastiveLoss', () => {
  it('summed over rank blocks gives the one-process loss and its gradient', () => {
    const rng = new Rng(3);
    const rand = (rows: number) => tf.tensor2d(Array.from({ length: rows * 8 }, () => rng.normal()), [rows, 8]);
    const [q, p, n] = [rand(5), rand(5), rand(5)];
    const full = (x: tf.Tensor) => captionContrastiveLoss(x as tf.Tensor2D, p, n, 20);
    const split = (x: tf.Tensor) => {
      const documents = tf.concat([p, n], 0) as tf.Tensor2D;
      const parts = [0, 1, 2].map((r) => {
        const block = rowBlock(5, r, 3);
        return localCaptionContrastiveLoss(tf.slice(x, [block.start, 0], [block.count, -1]) as tf.Tensor2D, documents, block.start, 5, 20);
      });
      return tf.addN(parts) as tf.Scalar;
    };
    const a = tf.valueAndGrad(full)(q);
    const b = tf.valueAndGrad(split)(q);
    expect(Math.abs(a.value.dataSync()[0] - b.value.dataSync()[0])).toBeLessThan(1e-5);
    const ga = a.grad.dataSync();
    const gb = b.grad.dataSync();
    ga.forEach((v, i) => expect(Math.abs(v - gb[i])).toBeLessThan(1e-6));
    // a rank without query rows contributes 0 but stays differentiable
    const empty = localCaptionContrastiveLoss(tf.zeros([0, 8]) as tf.Tensor2D, tf.concat([p, n], 0) as tf.Tensor2D, 5, 5);
    expect(Math.abs(empty.dataSync()[0])).toBe(0);
    expect(() => localCaptionContrastiveLoss(q, tf.concat([p, n], 0) as tf.Tensor2D, 3, 5)).toThrow(/E_SHAPE/);
    tf.dispose([q, p, n, a.value, a.grad, b.value, b.grad, empty]);
  });
});

describe('distributedContrastiveGradients in a world of one', () => {
  it('gives the loss and gradients of contrastiveGradients (same passes, same dropout) and leaks nothing', () => {
    initDistributed();
    const tokenizer = tinyTokenizer();
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const lora = LoraAdapter.attach(model, { r: 2, alpha: 4, dropout: 0.1 }, new Rng(2));
    // B non-zero so that the LoRA path has a gradient everywhere
    for (const [name, v] of lora.parameters.entries()) if (name.includes('lora_B')) v.assign(tf.fill(v.shape, 0.01));
    const embedder = new LlmEmbedder(model, tokenizer, { pooling: 'mean', bidirectional: true, maxLength: 24 });
    const captions = tinySamples(4).flatMap((s) => s.captions.slice(0, 3));
    const items = captions.map((c) => tokenizer.tokenize(c, { maxLength: 24 }));
    const loss = (e: tf.Tensor2D) => {
      const [q, p, n] = tf.split(e, 3, 0) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      return captionContrastiveLoss(q, p, n);
    };
    const before = tf.memory().numTensors;
    const a = contrastiveGradients(lora.parameters, embedder, items, loss, { tokensPerPass: 40, training: true, rng: new Rng(9) });
    const b = distributedContrastiveGradients(lora.parameters, embedder, items, loss, { tokensPerPass: 40, training: true, rng: new Rng(9), group: { rank: 0, worldSize: 1, isRoot: true } });
    expect(a.passes).toBeGreaterThan(1);
    expect(b.passes).toBe(a.passes);
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-6);
    expect([...b.grads.keys()]).toEqual([...a.grads.keys()]);
    for (const [name, g] of a.grads) {
      const x = g.dataSync();
      const y = b.grads.get(name)!.dataSync();
      x.forEach((v, i) => expect(Math.abs(v - y[i]), name).toBeLessThan(1e-6));
    }
    tf.dispose([...a.grads.values(), ...b.grads.values()]);
    expect(tf.memory().numTensors).toBe(before);
    lora.dispose();
    model.dispose();
  });
});

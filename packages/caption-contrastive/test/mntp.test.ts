import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { LlamaModel, LoraAdapter } from '@llm2clip/llm';
import { maskTokens, mntpLoss, resolveMaskTokenId, trainMntp } from '../src/index.js';
import { tinyConfig, tinySamples, tinyTokenizer } from './fixtures.js';

const tokenizer = tinyTokenizer();
const MASK = 4; // '<mask>' in the test vocabulary

describe('maskTokens', () => {
  it('selects ~20% of non-special tokens, 80% masked / 10% random / 10% kept, labels the originals', () => {
    const items = Array.from({ length: 400 }, () => tokenizer.tokenize('a red cube left of a blue ball with a small green star'));
    const masked = maskTokens(items, new Rng(3), { probability: 0.2, maskTokenId: MASK, vocabSize: 40, specialIds: new Set([0, 1, 2]), padTokenId: 0 });
    let candidates = 0;
    let selected = 0;
    let asMask = 0;
    let kept = 0;
    items.forEach((item, row) => {
      item.ids.forEach((id, position) => {
        const at = row * masked.length + position;
        if (id === 1) {
          expect(masked.labels[at]).toBe(-1); // BOS is special: never selected
          expect(masked.inputIds[at]).toBe(1);
          return;
        }
        candidates++;
        if (masked.labels[at] < 0) {
          expect(masked.inputIds[at]).toBe(id);
          return;
        }
        selected++;
        expect(masked.labels[at]).toBe(id);
        if (masked.inputIds[at] === MASK) asMask++;
        else if (masked.inputIds[at] === id) kept++;
      });
    });
    expect(selected / candidates).toBeGreaterThan(0.18);
    expect(selected / candidates).toBeLessThan(0.22);
    expect(asMask / selected).toBeGreaterThan(0.76);
    expect(asMask / selected).toBeLessThan(0.84);
    // kept = the 10% unchanged plus random draws that hit the original id (1/40 of the other 10%)
    expect(kept / selected).toBeGreaterThan(0.07);
    expect(kept / selected).toBeLessThan(0.14);
    expect(masked.predicted).toBe(selected);
    expect(maskTokens(items, new Rng(3), { probability: 0.2, maskTokenId: MASK, vocabSize: 40, specialIds: new Set([0, 1, 2]), padTokenId: 0 }).inputIds).toEqual(masked.inputIds);
  });

  it('right-pads rows and never selects padding', () => {
    const items = [tokenizer.tokenize('a red cube'), tokenizer.tokenize('a red cube left of a blue ball')];
    const masked = maskTokens(items, new Rng(1), { probability: 0.99, maskTokenId: MASK, vocabSize: 40, specialIds: new Set([0, 1, 2]), padTokenId: 0 });
    expect(masked.length).toBe(items[1].ids.length);
    const row0 = Array.from(masked.attentionMask.subarray(0, masked.length));
    expect(row0).toEqual([...new Array(items[0].ids.length).fill(1), ...new Array(masked.length - items[0].ids.length).fill(0)]);
    for (let p = items[0].ids.length; p < masked.length; p++) expect(masked.labels[p]).toBe(-1);
  });
});

describe('mntpLoss', () => {
  it('predicts a masked token at position i from the logits at position i-1, with bidirectional attention', () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(2));
    const ids = tokenizer.tokenize('a red cube left of a blue ball').ids;
    const inputIds = Int32Array.from(ids);
    inputIds[3] = MASK;
    inputIds[5] = MASK;
    const labels = new Int32Array(ids.length).fill(-1);
    labels[3] = ids[3];
    labels[5] = ids[5];
    const masked = { inputIds, attentionMask: new Int32Array(ids.length).fill(1), labels, batch: 1, length: ids.length, predicted: 2 };
    const loss = mntpLoss(model, masked);
    const expected = tf.tidy(() => {
      const hidden = model.forward(tf.tensor2d(inputIds, [1, ids.length], 'int32'), tf.ones([1, ids.length], 'int32') as tf.Tensor2D, { bidirectional: true });
      const logits = tf.logSoftmax(model.logits(tf.reshape(hidden, [ids.length, -1])) as tf.Tensor2D).arraySync() as number[][];
      return -(logits[2][ids[3]] + logits[4][ids[5]]) / 2;
    });
    expect(loss.dataSync()[0]).toBeCloseTo(expected, 5);
    // causal attention would give another value: the loss really is bidirectional
    const causal = tf.tidy(() => {
      const hidden = model.forward(tf.tensor2d(inputIds, [1, ids.length], 'int32'), tf.ones([1, ids.length], 'int32') as tf.Tensor2D, { bidirectional: false });
      const logits = tf.logSoftmax(model.logits(tf.reshape(hidden, [ids.length, -1])) as tf.Tensor2D).arraySync() as number[][];
      return -(logits[2][ids[3]] + logits[4][ids[5]]) / 2;
    });
    expect(Math.abs(causal - expected)).toBeGreaterThan(1e-4);
    loss.dispose();
    model.dispose();
  });
});

describe('resolveMaskTokenId', () => {
  it('finds a vocabulary token and rejects text that is several tokens', () => {
    expect(resolveMaskTokenId(tokenizer, '<mask>')).toBe(MASK);
    expect(resolveMaskTokenId(tokenizer, 'red')).toBe(tokenizer.encodeText('red')[0]);
    expect(() => resolveMaskTokenId(tokenizer, 'red cube')).toThrow(/E_CONFIG.*2 ids/);
  });
});

describe('trainMntp', () => {
  it('lowers the MNTP loss with LoRA, saves the PEFT adapter, then merges it into the base', async () => {
    // a random LM head with init-scale weights keeps every logit near 0 (loss ≈ ln V whatever the
    // hidden state); a larger head lets the LoRA-adapted states move the prediction
    const widen = (m: LlamaModel) => tf.tidy(() => m.parameters.get('lm_head.weight').assign(tf.mul(m.parameters.get('lm_head.weight'), 40)));
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    widen(model);
    const base = model.fingerprint();
    const texts = tinySamples(4).map((s) => s.captions[1]);
    const probe = maskTokens(texts.map((t) => tokenizer.tokenize(t)), new Rng(99), { probability: 0.3, maskTokenId: MASK, vocabSize: 40, specialIds: new Set([0, 1, 2]), padTokenId: 0 });
    const lossOf = () => tf.tidy(() => mntpLoss(model, probe).dataSync()[0]);
    const before = lossOf();
    const adapterDir = join(await mkdtemp(join(tmpdir(), 'mntp-')), 'adapter');
    const counts = new Map<number, number>();
    const { losses, lora } = await trainMntp({
      model,
      tokenizer,
      texts,
      steps: 20,
      batchSize: 4,
      lr: 5e-2,
      maxLength: 32,
      maskToken: '<mask>',
      seed: 4,
      lora: { r: 4, alpha: 8, dropout: 0 },
      adapterDir,
      tokensPerPass: 128,
      onProgress: (e) => counts.set(e.done, tf.memory().numTensors),
    });
    expect(lora).toBeUndefined();
    expect(model.adapter).toBeUndefined();
    expect(model.fingerprint()).not.toBe(base);
    expect(counts.get(20)).toBe(counts.get(2));
    expect(losses).toHaveLength(20);
    expect(lossOf()).toBeLessThan(before * 0.8);
    expect((await readdir(adapterDir)).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    // the saved adapter on a fresh copy of the base reproduces the merged model's states
    const fresh = LlamaModel.create(tinyConfig(), new Rng(1));
    widen(fresh);
    const loaded = await LoraAdapter.loadAdapter(fresh, adapterDir);
    const ids = tf.tensor2d([tokenizer.tokenize('a red cube').ids], undefined, 'int32');
    const mask = tf.onesLike(ids) as tf.Tensor2D;
    const a = model.forward(ids, mask, { bidirectional: true }).dataSync();
    const b = fresh.forward(ids, mask, { bidirectional: true }).dataSync();
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    expect(maxDiff).toBeLessThan(1e-4);
    loaded.dispose();
    tf.dispose([ids, mask]);
    fresh.dispose();
    model.dispose();
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { LlamaModel, LlmEmbedder, LlmTokenizer, LoraAdapter, causalLmLoss, poolingWeights, type PoolingMode } from '../src/index.js';
import { TINY_VOCAB, tempDir, tinyConfig, tinyTokenizerConfig, tinyTokenizerJson, writeTinyTokenizer } from './fixtures.js';

const tokenizer = LlmTokenizer.fromJson(tinyTokenizerJson(), tinyTokenizerConfig());
const config = tinyConfig({ vocab_size: TINY_VOCAB });
const TEXTS = ['a red cube left of a blue ball', 'the green cone', 'two small yellow rings above the large cube', 'a ball'];

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('pooling', () => {
  it('weights real tokens only and is independent of where padding sits', () => {
    const weights = (mask: number[][], embed: number[][], mode: PoolingMode) =>
      tf.tidy(() => poolingWeights(tf.tensor2d(mask, undefined, 'int32'), tf.tensor2d(embed, undefined, 'int32'), mode).arraySync());
    const left = [[0, 1, 1, 1]];
    const leftEmbed = [[0, 0, 1, 1]];
    expect(weights(left, leftEmbed, 'mean')).toEqual([[0, 0, 0.5, 0.5]]);
    expect(weights(left, leftEmbed, 'weighted_mean')[0].map((w) => Number(w.toFixed(6)))).toEqual([0, 0, Number((1 / 3).toFixed(6)), Number((2 / 3).toFixed(6))]);
    expect(weights(left, left, 'eos')).toEqual([[0, 0, 0, 1]]);
    expect(weights(left, left, 'bos')).toEqual([[0, 1, 0, 0]]);
    expect(weights([[1, 1, 1, 0]], [[1, 1, 1, 0]], 'eos')).toEqual([[0, 0, 1, 0]]);
  });
});

describe('LlmEmbedder', () => {
  for (const pooling of ['mean', 'weighted_mean', 'eos', 'bos'] as const) {
    it(`padding (left or right) does not change ${pooling}-pooled embeddings`, async () => {
      const model = LlamaModel.create(config, new Rng(1));
      const left = new LlmEmbedder(model, tokenizer, { pooling, padding: 'left' });
      const right = new LlmEmbedder(model, tokenizer, { pooling, padding: 'right' });
      const alone = await Promise.all(TEXTS.map(async (text) => (await left.embed([text])).data));
      const batchedLeft = await left.embed(TEXTS, { batchSize: 4 });
      const batchedRight = await right.embed(TEXTS, { batchSize: 4 });
      TEXTS.forEach((_, i) => {
        const row = (m: { data: Float32Array }) => m.data.subarray(i * 32, (i + 1) * 32);
        expect(maxAbsDiff(row(batchedLeft), alone[i])).toBeLessThan(1e-5);
        expect(maxAbsDiff(row(batchedRight), alone[i])).toBeLessThan(1e-5);
      });
      expect(left.describe().fingerprint).toBe(right.describe().fingerprint);
      model.dispose();
    });
  }

  it('excludes instruction tokens from pooling: the vector is the mean over the text tokens', () => {
    const model = LlamaModel.create(config, new Rng(2));
    const embedder = new LlmEmbedder(model, tokenizer, { instruction: 'retrieve matching caption :' });
    const batch = embedder.encode(['red cube']);
    expect([...batch.embedMask]).toEqual([0, 0, 0, 0, 0, 1, 1]);
    const [pooled, manual] = tf.tidy(() => {
      const shape: [number, number] = [batch.batch, batch.length];
      const hidden = model.forward(tf.tensor2d(batch.inputIds, shape, 'int32'), tf.tensor2d(batch.attentionMask, shape, 'int32'), { bidirectional: true });
      const textStates = tf.slice(hidden, [0, 5, 0], [1, 2, 32]);
      return [embedder.embedTensor(batch).dataSync() as Float32Array, tf.mean(textStates, 1).dataSync() as Float32Array];
    });
    expect(maxAbsDiff(pooled, manual)).toBeLessThan(1e-6);
    model.dispose();
  });

  it('returns rows in input order whatever the batch size', async () => {
    const model = LlamaModel.create(config, new Rng(3));
    const embedder = new LlmEmbedder(model, tokenizer);
    const progress: number[] = [];
    const small = await embedder.embed(TEXTS, { batchSize: 1, onProgress: (done) => progress.push(done) });
    const large = await embedder.embed(TEXTS, { batchSize: 16 });
    expect(small.rows).toBe(4);
    expect(small.dim).toBe(32);
    expect(maxAbsDiff(small.data, large.data)).toBeLessThan(1e-5);
    expect(progress).toEqual([1, 2, 3, 4]);
    const pairs = await embedder.embed([['retrieve :', TEXTS[0]], TEXTS[1]]);
    expect(maxAbsDiff(pairs.data.subarray(32), large.data.subarray(32, 64))).toBeLessThan(1e-5);
    model.dispose();
  });

  it('loads from a directory with a merged adapter, and the fingerprint follows the weights', async () => {
    const dir = await tempDir();
    const model = LlamaModel.create(config, new Rng(4));
    await model.save(dir);
    await writeTinyTokenizer(dir);
    const lora = LoraAdapter.attach(model, { r: 2, alpha: 4 }, new Rng(5));
    for (const [name, variable] of lora.parameters.entries()) {
      if (name.includes('lora_B')) variable.assign(tf.fill(variable.shape, 0.05));
    }
    const adapterDir = await tempDir();
    await lora.saveAdapter(adapterDir);
    const live = new LlmEmbedder(model, tokenizer, { name: 'live' });
    const expected = await live.embed(TEXTS);
    const plain = await LlmEmbedder.fromPretrained(dir);
    const merged = await LlmEmbedder.fromPretrained(dir, { adapter: adapterDir });
    const unmerged = await LlmEmbedder.fromPretrained(dir, { adapter: adapterDir, mergeAdapter: false });
    expect(maxAbsDiff((await merged.embed(TEXTS)).data, expected.data)).toBeLessThan(1e-5);
    expect(maxAbsDiff((await unmerged.embed(TEXTS)).data, expected.data)).toBeLessThan(1e-5);
    expect(plain.describe().fingerprint).not.toBe(merged.describe().fingerprint);
    expect(merged.describe().details).toMatchObject({ pooling: 'mean', bidirectional: true, maxLength: 512, chatTemplate: 'none' });
    const before = tf.memory().numTensors;
    plain.dispose();
    merged.dispose();
    unmerged.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
    live.dispose();
  });
});

describe('causalLmLoss', () => {
  it('averages next-token cross-entropy over pairs of real tokens only', () => {
    const model = LlamaModel.create(config, new Rng(6));
    const ids = [[0, 1, 5, 7], [1, 9, 12, 0]];
    const mask = [[0, 1, 1, 1], [1, 1, 1, 0]];
    const [loss, manual] = tf.tidy(() => {
      const idsT = tf.tensor2d(ids, undefined, 'int32');
      const maskT = tf.tensor2d(mask, undefined, 'int32');
      const logProbs = tf.logSoftmax(model.logits(model.forward(idsT, maskT))).arraySync() as number[][][];
      // pairs (row 0: 1→5, 5→7; row 1: 1→9, 9→12)
      const terms = [logProbs[0][1][5], logProbs[0][2][7], logProbs[1][0][9], logProbs[1][1][12]];
      return [causalLmLoss(model, idsT, maskT).dataSync()[0], -terms.reduce((a, b) => a + b, 0) / 4];
    });
    expect(Math.abs(loss - manual)).toBeLessThan(1e-5);
    model.dispose();
  });
});

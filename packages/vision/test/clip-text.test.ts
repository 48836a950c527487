import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { ClipTextModel, ClipTextTokenizer, ClipTextEmbedder } from '../src/index.js';
import { tempDir, useCpu, wordLevelTokenizerJson } from './helpers.js';

beforeAll(useCpu);

const WORDS = ['a', 'red', 'blue', 'green', 'circle', 'square', 'on', 'the', 'left', 'right', '.'];
const tokenizer = ClipTextTokenizer.fromJson(wordLevelTokenizerJson(WORDS));

function tinyText(seed: number): ClipTextModel {
  return ClipTextModel.create(
    { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, projection_dim: 16, hidden_act: 'gelu', ...tokenizer.configFields() },
    new Rng(seed),
  );
}

describe('ClipTextTokenizer', () => {
  it('adds start and end tokens and pads to 77', () => {
    const ids = tokenizer.encode('A red circle on the left.');
    expect(ids).toHaveLength(77);
    expect(Array.from(ids.slice(0, 9))).toEqual([2, 4, 5, 8, 10, 11, 12, 14, 3]);
    expect(ids[9]).toBe(0);
    expect(tokenizer.encode('a purple circle')[2]).toBe(1); // unknown word → <unk>
  });

  it('truncates long captions to 77 tokens and keeps the end token last', () => {
    const long = Array.from({ length: 120 }, (_, i) => WORDS[i % WORDS.length]).join(' ');
    const ids = tokenizer.encode(long);
    expect(ids).toHaveLength(77);
    expect(ids[0]).toBe(tokenizer.bosTokenId);
    expect(ids[76]).toBe(tokenizer.eosTokenId);
    expect(Array.from(ids.slice(1, 76))).toEqual(tokenizer.tokenIds(long).slice(0, 75));
  });
});

describe('ClipTextModel', () => {
  it('pools at the first end token, else at the last non-padding token', () => {
    const model = tinyText(1);
    const eos = tokenizer.eosTokenId;
    const ids = tf.tensor2d(
      [
        [1, 4, 5, 6, 7, eos, 0, 0],
        [1, 4, eos, 0, 0, 0, 0, 0],
        [1, 4, 5, 6, 0, 0, 0, 0],
      ],
      [3, 8],
      'int32',
    );
    const positions = model.poolingPositions(ids);
    expect(Array.from(positions.dataSync())).toEqual([5, 2, 3]);
    const states = model.hiddenStates(ids);
    const pooled = model.pooledOutput(ids);
    const expected = tf.reshape(tf.slice(states, [1, 2, 0], [1, 1, 32]), [32]);
    const got = tf.reshape(tf.slice(pooled, [1, 0], [1, 32]), [32]);
    expect(Array.from(got.dataSync())).toEqual(Array.from(expected.dataSync()));
    tf.dispose([ids, positions, states, pooled, expected, got]);
    model.dispose();
  });

  it('is causal: position 0 ignores later tokens, and padding after the end token changes nothing', () => {
    const model = tinyText(2);
    const eos = tokenizer.eosTokenId;
    const a = tf.tensor2d([[1, 4, 5, eos, 0, 0]], [1, 6], 'int32');
    const b = tf.tensor2d([[1, 9, 7, eos, 6, 6]], [1, 6], 'int32');
    const c = tf.tensor2d([[1, 4, 5, eos, 7, 8]], [1, 6], 'int32');
    const sa = model.hiddenStates(a).arraySync()[0];
    const sb = model.hiddenStates(b).arraySync()[0];
    expect(sb[0]).toEqual(sa[0]);
    expect(sb[1]).not.toEqual(sa[1]);
    const fa = model.forward(a).dataSync();
    const fc = model.forward(c).dataSync();
    expect(Array.from(fc)).toEqual(Array.from(fa));
    tf.dispose([a, b, c]);
    model.dispose();
  });

  it('gives the same pooled features for batches trimmed to their longest caption', () => {
    const model = tinyText(4);
    const captions = ['a red circle', 'a blue square on the right .', 'green'];
    const full = tokenizer.encodeToTensor(captions);
    const trimmed = tokenizer.encodeToTensor(captions, { trim: true });
    expect(full.shape).toEqual([3, 77]);
    expect(trimmed.shape).toEqual([3, 9]);
    const a = model.forward(full).dataSync();
    const b = model.forward(trimmed).dataSync();
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 5);
    tf.dispose([full, trimmed]);
    model.dispose();
  });

  it('encodes captions through the embedder, saves and loads back', async () => {
    const model = tinyText(3);
    const embedder = new ClipTextEmbedder(model, tokenizer, { batchSize: 2 });
    const captions = ['a red circle', 'a blue square on the right', 'green'];
    const matrix = await embedder.embed(captions);
    expect(matrix.rows).toBe(3);
    expect(matrix.dim).toBe(16);
    const dir = await tempDir('text');
    await model.save(dir);
    const loaded = await ClipTextModel.fromPretrained(dir);
    const again = await new ClipTextEmbedder(loaded, tokenizer).embed(captions);
    expect(Array.from(again.data)).toEqual(Array.from(matrix.data));
    expect(embedder.describe().fingerprint).toHaveLength(16);
    model.dispose();
    loaded.dispose();
  });
});

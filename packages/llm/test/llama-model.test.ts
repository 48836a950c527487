import { readFile, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng, isLlm2ClipError } from '@llm2clip/core';
import { readSafetensors, writeSafetensors } from '@llm2clip/tensor';
import { LlamaModel, applyRope, ropePositionIds, ropeTables, ropeInverseFrequencies, parseLlamaConfig, rotateHalf } from '../src/index.js';
import { tempDir, tinyConfig } from './fixtures.js';

function run(model: LlamaModel, ids: number[][], mask: number[][], bidirectional: boolean): number[][][] {
  return tf.tidy(() => model.forward(tf.tensor2d(ids, undefined, 'int32'), tf.tensor2d(mask, undefined, 'int32'), { bidirectional }).arraySync());
}

function maxAbsDiff(a: number[] | Float32Array, b: number[] | Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('LlamaModel', () => {
  it('bidirectional attention lets position 0 see later tokens; causal attention does not', () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const mask = [[1, 1, 1, 1]];
    for (const bidirectional of [true, false]) {
      const before = run(model, [[1, 5, 6, 7]], mask, bidirectional);
      const after = run(model, [[1, 5, 6, 30]], mask, bidirectional);
      const diff = maxAbsDiff(before[0][0], after[0][0]);
      if (bidirectional) expect(diff).toBeGreaterThan(1e-4);
      else expect(diff).toBe(0);
    }
    model.dispose();
  });

  it('left and right padding leave the states of real tokens unchanged', () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(2));
    for (const bidirectional of [true, false]) {
      const plain = run(model, [[1, 5, 6]], [[1, 1, 1]], bidirectional)[0];
      const left = run(model, [[0, 0, 1, 5, 6]], [[0, 0, 1, 1, 1]], bidirectional)[0].slice(2);
      const right = run(model, [[1, 5, 6, 0, 0]], [[1, 1, 1, 0, 0]], bidirectional)[0].slice(0, 3);
      expect(maxAbsDiff(plain.flat(), left.flat())).toBeLessThan(1e-5);
      expect(maxAbsDiff(plain.flat(), right.flat())).toBeLessThan(1e-5);
    }
    model.dispose();
  });

  it('grouped-query attention equals attention with explicitly repeated kv weights', () => {
    const gqa = LlamaModel.create(tinyConfig({ num_key_value_heads: 2 }), new Rng(3));
    const weights = gqa.parameters.toHost();
    const headDim = 8;
    const groups = 2;
    for (const [name, tensor] of [...weights]) {
      if (!/\.(k|v)_proj\.weight$/.test(name)) continue;
      const [, inFeatures] = tensor.shape;
      const kvHeads = tensor.shape[0] / headDim;
      const repeated = new Float32Array(kvHeads * groups * headDim * inFeatures);
      for (let head = 0; head < kvHeads * groups; head++) {
        const source = Math.floor(head / groups);
        repeated.set(tensor.data.subarray(source * headDim * inFeatures, (source + 1) * headDim * inFeatures), head * headDim * inFeatures);
      }
      weights.set(name, { shape: [kvHeads * groups * headDim, inFeatures], dtype: 'float32', data: repeated });
    }
    const mha = LlamaModel.fromWeights(tinyConfig({ num_key_value_heads: 4 }), weights);
    for (const bidirectional of [true, false]) {
      const a = run(gqa, [[1, 5, 6, 7, 8]], [[1, 1, 1, 1, 1]], bidirectional);
      const b = run(mha, [[1, 5, 6, 7, 8]], [[1, 1, 1, 1, 1]], bidirectional);
      expect(maxAbsDiff(a.flat(2), b.flat(2))).toBeLessThan(1e-5);
    }
    gqa.dispose();
    mha.dispose();
  });

  it('applies RoPE as hand-computed for two positions (rotate_half convention)', () => {
    const config = parseLlamaConfig(tinyConfig({ hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 2 }));
    const invFreq = ropeInverseFrequencies(config);
    expect([...invFreq]).toEqual([1, Math.fround(0.01)]);
    const x = [
      [1, 2, 3, 4],
      [0.5, -1, 2, 0.25],
    ];
    const out = tf.tidy(() => {
      const positions = ropePositionIds(tf.tensor2d([[1, 1]], undefined, 'int32'));
      const tables = ropeTables(positions, invFreq);
      return applyRope(tf.tensor4d(x.flat(), [1, 1, 2, 4]), tables).arraySync()[0][0];
    });
    // position 0 is the identity
    expect(maxAbsDiff(out[0], x[0])).toBeLessThan(1e-7);
    const [x1, x2, x3, x4] = x[1];
    const expected = [
      x1 * Math.cos(1) - x3 * Math.sin(1),
      x2 * Math.cos(0.01) - x4 * Math.sin(0.01),
      x3 * Math.cos(1) + x1 * Math.sin(1),
      x4 * Math.cos(0.01) + x2 * Math.sin(0.01),
    ];
    expect(maxAbsDiff(out[1], expected)).toBeLessThan(1e-6);
    expect(tf.tidy(() => rotateHalf(tf.tensor1d([1, 2, 3, 4])).arraySync())).toEqual([-3, -4, 1, 2]);
  });

  it('numbers positions from the attention mask (cumsum − 1, padding 1)', () => {
    const positions = tf.tidy(() => ropePositionIds(tf.tensor2d([[0, 0, 1, 1, 1], [1, 1, 1, 0, 0]], undefined, 'int32')).arraySync());
    expect(positions).toEqual([[1, 1, 0, 1, 2], [0, 1, 2, 1, 1]]);
  });

  it('round-trips through save and fromPretrained with identical outputs', async () => {
    for (const overrides of [{}, { tie_word_embeddings: true }, { model_type: 'qwen2' as const, architectures: ['Qwen2ForCausalLM' as const], attention_bias: undefined }]) {
      const model = LlamaModel.create(tinyConfig(overrides), new Rng(4));
      const dir = await tempDir();
      await model.save(dir);
      const loaded = await LlamaModel.fromPretrained(dir);
      const ids = [[1, 5, 6, 7]];
      const mask = [[1, 1, 1, 1]];
      expect(run(loaded, ids, mask, true)).toEqual(run(model, ids, mask, true));
      const logits = (m: LlamaModel) => tf.tidy(() => m.logits(m.forward(tf.tensor2d(ids, undefined, 'int32'), tf.tensor2d(mask, undefined, 'int32'))).arraySync());
      expect(logits(loaded)).toEqual(logits(model));
      const names = [...(await readSafetensors(join(dir, 'model.safetensors'))).tensors.keys()];
      expect(names.includes('lm_head.weight')).toBe(overrides.tie_word_embeddings !== true);
      if (overrides.model_type === 'qwen2') expect(names).toContain('model.layers.0.self_attn.q_proj.bias');
      const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      expect(config.hidden_size).toBe(32);
      model.dispose();
      loaded.dispose();
    }
  });

  it('loads sharded safetensors through model.safetensors.index.json', async () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(5));
    const dir = await tempDir();
    await model.save(dir);
    const all = (await readSafetensors(join(dir, 'model.safetensors'))).tensors;
    const names = [...all.keys()];
    const half = Math.ceil(names.length / 2);
    const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const weightMap: Record<string, string> = {};
    for (const [part, slice] of [names.slice(0, half), names.slice(half)].entries()) {
      await writeSafetensors(join(dir, files[part]), new Map(slice.map((n) => [n, all.get(n)!])));
      for (const n of slice) weightMap[n] = files[part];
    }
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    await rm(join(dir, 'model.safetensors'));
    const loaded = await LlamaModel.fromPretrained(dir);
    expect(loaded.fingerprint()).toBe(model.fingerprint());
    model.dispose();
    loaded.dispose();
  });

  it('reports missing, unexpected and mis-shaped tensors by name', () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(6));
    const weights = model.parameters.toHost();
    model.dispose();
    const missing = new Map(weights);
    missing.delete('model.layers.1.mlp.up_proj.weight');
    expect(() => LlamaModel.fromWeights(tinyConfig(), missing)).toThrow(/E_MISMATCH.*missing: model\.layers\.1\.mlp\.up_proj\.weight/);
    const extra = new Map(weights);
    extra.set('model.layers.9.mlp.up_proj.weight', weights.get('model.layers.1.mlp.up_proj.weight')!);
    expect(() => LlamaModel.fromWeights(tinyConfig(), extra)).toThrow(/unexpected: model\.layers\.9\.mlp\.up_proj\.weight/);
    const misShaped = new Map(weights);
    misShaped.set('model.norm.weight', { shape: [16], dtype: 'float32', data: new Float32Array(16) });
    try {
      LlamaModel.fromWeights(tinyConfig(), misShaped);
      expect.unreachable();
    } catch (error) {
      expect(isLlm2ClipError(error, 'E_SHAPE')).toBe(true);
      expect((error as Error).message).toMatch(/expected shape \[32\], file has \[16\].*model\.norm\.weight/);
    }
  });

  it('refuses an unknown model_type or architecture, naming the field', () => {
    expect(() => parseLlamaConfig({ ...tinyConfig(), model_type: 'gpt2' })).toThrow(/E_CONFIG.*field model_type/);
    expect(() => parseLlamaConfig({ ...tinyConfig(), architectures: ['GPT2LMHeadModel'] })).toThrow(/E_CONFIG.*field architectures\.0/);
    expect(() => parseLlamaConfig({ ...tinyConfig(), num_key_value_heads: 3 })).toThrow(/field num_key_value_heads/);
  });

  it('keeps no tensors alive after a forward pass', () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(7));
    const ids = tf.tensor2d([[1, 5, 6]], undefined, 'int32');
    const mask = tf.tensor2d([[1, 1, 1]], undefined, 'int32');
    const before = tf.memory().numTensors;
    model.forward(ids, mask, { bidirectional: true }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, mask]);
    model.dispose();
  });
});

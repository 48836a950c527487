import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { l2Normalize, layerNorm, readSafetensors } from '@llm2clip/tensor';
import { TextAdapter } from '../src/index.js';
import { tempDir, useCpu } from './helpers.js';

beforeAll(useCpu);

describe('TextAdapter', () => {
  it('maps [batch, inputDim] to [batch, outputDim] with 4 blocks of d → 2d → d', () => {
    const adapter = TextAdapter.create({ inputDim: 12, outputDim: 8 }, new Rng(1));
    expect(adapter.parameters.get('adapter.blocks.3.fc1.weight').shape).toEqual([24, 12]);
    expect(adapter.parameters.get('adapter.blocks.3.fc2.weight').shape).toEqual([12, 24]);
    expect(adapter.parameters.has('adapter.blocks.4.fc1.weight')).toBe(false);
    expect(adapter.parameters.get('adapter.proj.weight').shape).toEqual([8, 12]);
    const x = tf.tensor2d(new Rng(2).normalArray(5 * 12), [5, 12]);
    const y = adapter.forward(x);
    expect(y.shape).toEqual([5, 8]);
    // the input is L2-normalised first: scaling it changes nothing
    const y2 = adapter.forward(tf.mul(x, 7) as tf.Tensor2D);
    const diff = tf.max(tf.abs(tf.sub(y, y2))).dataSync()[0];
    expect(diff).toBeLessThan(1e-5);
    tf.dispose([x, y, y2]);
    adapter.dispose();
  });

  it('is residual: zeroed MLP weights give proj(LN(l2norm(x)))', () => {
    const adapter = TextAdapter.create({ inputDim: 6, outputDim: 4 }, new Rng(3));
    for (const [name, variable] of adapter.parameters.entries()) {
      if (/\.fc[12]\./.test(name)) variable.assign(tf.zerosLike(variable));
    }
    // non-trivial final norm, to see it applied
    adapter.parameters.get('adapter.norm.weight').assign(tf.tensor1d([1, 2, 3, 4, 5, 6]));
    const x = tf.tensor2d(new Rng(4).normalArray(3 * 6), [3, 6]);
    const got = adapter.forward(x);
    const s = adapter.parameters;
    const expected = tf.matMul(layerNorm(l2Normalize(x), s.get('adapter.norm.weight'), s.get('adapter.norm.bias'), 1e-5) as tf.Tensor2D, s.get('adapter.proj.weight') as tf.Tensor2D, false, true);
    const a = got.dataSync();
    const b = expected.dataSync();
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 5);
    tf.dispose([x, got, expected]);
    adapter.dispose();
  });

  it('saves and loads with adapter_config.json', async () => {
    const adapter = TextAdapter.create({ inputDim: 6, outputDim: 4, numBlocks: 2 }, new Rng(5));
    const dir = await tempDir('adapter');
    await adapter.save(dir);
    const loaded = await TextAdapter.load(dir);
    expect(loaded.config).toEqual(adapter.config);
    expect(loaded.fingerprint()).toBe(adapter.fingerprint());
    adapter.dispose();
    loaded.dispose();
  });

  it('reproduces LLM2CLIP TextProj (PyTorch) from its state dict, and writes the same names back', async () => {
    // fixture: scripts/llm2clip_text_proj_fixture.py (TextProj of microsoft/LLM2CLIP, seeded weights)
    const fixtures = join(import.meta.dirname, 'fixtures');
    const reference = JSON.parse(await readFile(join(fixtures, 'llm2clip-text-proj.json'), 'utf8')) as { config: { inputDim: number; outputDim: number }; input: number[]; output: number[] };
    const { tensors } = await readSafetensors(join(fixtures, 'llm2clip-text-proj.safetensors'));
    const adapter = TextAdapter.fromLlm2ClipStateDict(tensors, reference.config);
    const x = tf.tensor2d(reference.input, [3, 6]);
    const y = adapter.forward(x);
    const got = y.dataSync();
    reference.output.forEach((value, i) => expect(got[i]).toBeCloseTo(value, 5));
    const back = adapter.toLlm2ClipStateDict();
    expect([...back.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, tensor] of tensors) expect(Array.from(back.get(name)?.data ?? [])).toEqual(Array.from(tensor.data));
    tf.dispose([x, y]);
    tensors.delete('text_adaptor.5.bias');
    expect(() => TextAdapter.fromLlm2ClipStateDict(tensors, reference.config)).toThrow(/adapter\.proj\.bias/);
    adapter.dispose();
  });

  it('loads a version-1 adapter written before projBias existed (bias-free projection)', async () => {
    const adapter = TextAdapter.create({ inputDim: 6, outputDim: 4, numBlocks: 1, projBias: false }, new Rng(6));
    const dir = await tempDir('adapter-v1');
    await adapter.save(dir);
    const configPath = join(dir, 'adapter_config.json');
    const json = JSON.parse(await readFile(configPath, 'utf8'));
    delete json.config.projBias;
    await writeFile(configPath, JSON.stringify(json));
    const loaded = await TextAdapter.load(dir);
    expect(loaded.config.projBias).toBe(false);
    expect(loaded.fingerprint()).toBe(adapter.fingerprint());
    adapter.dispose();
    loaded.dispose();
  });
});

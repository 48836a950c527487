import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { AdamW, computeGradients, disposeGradients, readSafetensors } from '@llm2clip/tensor';
import { LlamaModel, LoraAdapter, causalLmLoss } from '../src/index.js';
import { tempDir, tinyConfig } from './fixtures.js';

const IDS = [[1, 5, 6, 7, 8], [0, 0, 1, 9, 10]];
const MASK = [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]];

function hidden(model: LlamaModel): Float32Array {
  return tf.tidy(() => model.forward(tf.tensor2d(IDS, undefined, 'int32'), tf.tensor2d(MASK, undefined, 'int32'), { bidirectional: true }).dataSync() as Float32Array);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Gives every B matrix random values so the adapter is not the identity. */
function randomizeB(lora: LoraAdapter, rng: Rng): void {
  for (const [name, variable] of lora.parameters.entries()) {
    if (name.includes('.lora_B.')) variable.assign(tf.tensor(rng.normalArray(variable.size, 0.1), variable.shape));
  }
}

describe('LoraAdapter', () => {
  it('starts as the identity: outputs equal the base model before any step', () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const base = hidden(model);
    const lora = LoraAdapter.attach(model, { r: 4, alpha: 8, dropout: 0.1 }, new Rng(2));
    expect(maxAbsDiff(hidden(model), base)).toBe(0);
    lora.dispose();
    model.dispose();
  });

  it('uses PEFT tensor names and shapes, and writes the adapter_config fields', async () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const lora = LoraAdapter.attach(model, { r: 4, alpha: 8, dropout: 0.05 }, new Rng(2), { baseModelNameOrPath: 'models/tiny' });
    const names = lora.parameters.names();
    expect(names).toHaveLength(2 * 7 * 2);
    expect(names).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(names).toContain('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight');
    expect(lora.parameters.get('base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight').shape).toEqual([4, 32]);
    expect(lora.parameters.get('base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight').shape).toEqual([16, 4]);
    expect(lora.parameters.get('base_model.model.model.layers.0.mlp.down_proj.lora_A.weight').shape).toEqual([4, 64]);
    const dir = await tempDir();
    await lora.saveAdapter(dir);
    const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 8,
      lora_dropout: 0.05,
      target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
      bias: 'none',
      base_model_name_or_path: 'models/tiny',
      task_type: 'CAUSAL_LM',
    });
    const file = await readSafetensors(join(dir, 'adapter_model.safetensors'));
    expect([...file.tensors.keys()].sort()).toEqual([...names].sort());
    lora.dispose();
    model.dispose();
  });

  it('round-trips through saveAdapter and loadAdapter', async () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const lora = LoraAdapter.attach(model, { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] }, new Rng(2));
    randomizeB(lora, new Rng(3));
    const withAdapter = hidden(model);
    const dir = await tempDir();
    await lora.saveAdapter(dir);
    lora.dispose();
    const fresh = await LlamaModel.fromWeights(model.config, model.parameters.toHost());
    const loaded = await LoraAdapter.loadAdapter(fresh, dir);
    expect(loaded.options).toEqual({ r: 4, alpha: 8, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] });
    expect(maxAbsDiff(hidden(fresh), withAdapter)).toBe(0);
    loaded.dispose();
    fresh.dispose();
    model.dispose();
  });

  it('reports adapter tensors that do not match the model by name', async () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const lora = LoraAdapter.attach(model, { r: 4, targetModules: ['q_proj'] }, new Rng(2));
    const dir = await tempDir();
    await lora.saveAdapter(dir);
    lora.dispose();
    const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'));
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify({ ...config, target_modules: ['q_proj', 'k_proj'] }));
    await expect(LoraAdapter.loadAdapter(model, dir)).rejects.toThrow(/missing: base_model\.model\.model\.layers\.0\.self_attn\.k_proj\.lora_A\.weight/);
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify({ ...config, use_dora: true }));
    await expect(LoraAdapter.loadAdapter(model, dir)).rejects.toThrow(/E_CONFIG.*field use_dora/);
    model.dispose();
  });

  it('merge gives the same outputs as the unmerged adapter', () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const lora = LoraAdapter.attach(model, { r: 4, alpha: 8 }, new Rng(2));
    randomizeB(lora, new Rng(3));
    const before = hidden(model);
    const base = model.fingerprint();
    lora.merge();
    expect(model.adapter).toBeUndefined();
    expect(model.fingerprint()).not.toBe(base);
    expect(maxAbsDiff(hidden(model), before)).toBeLessThan(1e-5);
    model.dispose();
  });

  it('unmerges back to the base weights and saves the merged model in the HF layout, sharded', async () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(31));
    const base = hidden(model);
    const baseWeight = Float32Array.from(model.parameters.get('model.layers.0.self_attn.q_proj.weight').dataSync());
    const lora = LoraAdapter.attach(model, { r: 4, alpha: 8, dropout: 0 }, new Rng(32));
    randomizeB(lora, new Rng(33));
    const adapted = hidden(model);
    expect(maxAbsDiff(adapted, base)).toBeGreaterThan(1e-3);
    expect(() => lora.unmerge()).toThrow(/E_STATE/);
    lora.merge({ keepAdapter: true });
    expect(model.adapter).toBeUndefined();
    expect(maxAbsDiff(hidden(model), adapted)).toBeLessThan(1e-5);
    lora.unmerge();
    expect(model.adapter).toBe(lora);
    expect(maxAbsDiff(hidden(model), adapted)).toBeLessThan(1e-5);
    lora.deactivate();
    expect(maxAbsDiff(hidden(model), base)).toBeLessThan(1e-5);
    expect(maxAbsDiff(model.parameters.get('model.layers.0.self_attn.q_proj.weight').dataSync() as Float32Array, baseWeight)).toBeLessThan(1e-6);
    lora.activate();
    // saveMerged leaves the model as it was and writes a model that needs no adapter
    const dir = await tempDir();
    await lora.saveMerged(dir, { maxShardBytes: 25_000, dtype: 'F32' });
    expect(model.adapter).toBe(lora);
    expect(lora.isMerged).toBe(false);
    const index = JSON.parse(await readFile(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
    expect(Object.keys(index.weight_map)).toContain('model.layers.1.mlp.down_proj.weight');
    expect(Object.keys(index.weight_map).some((n) => n.includes('lora'))).toBe(false);
    const merged = await LlamaModel.fromPretrained(dir);
    expect(maxAbsDiff(hidden(merged), adapted)).toBeLessThan(1e-5);
    merged.dispose();
    // a merge without keepAdapter frees the adapter weights, so there is nothing to unmerge
    lora.merge();
    expect(() => lora.unmerge()).toThrow(/E_STATE.*keepAdapter/);
    model.dispose();
  });

  it('reads and writes rsLoRA adapters (scale alpha/√r)', async () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(36));
    const lora = LoraAdapter.attach(model, { r: 4, alpha: 8, dropout: 0, rslora: true }, new Rng(37));
    expect(lora.scale).toBe(4);
    randomizeB(lora, new Rng(38));
    const adapted = hidden(model);
    const dir = await tempDir();
    await lora.saveAdapter(dir);
    expect(JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'))).toMatchObject({ use_rslora: true, r: 4, lora_alpha: 8 });
    lora.dispose();
    const loaded = await LoraAdapter.loadAdapter(model, dir);
    expect(loaded.scale).toBe(4);
    expect(maxAbsDiff(hidden(model), adapted)).toBeLessThan(1e-6);
    loaded.dispose();
    model.dispose();
  });

  it('reads PEFT target_modules given as a regex, all-linear or qualified names', async () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(34));
    const lora = LoraAdapter.attach(model, { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'] }, new Rng(35));
    const dir = await tempDir();
    await lora.saveAdapter(dir);
    lora.dispose();
    const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    for (const target of ['.*\\.(q_proj|v_proj)', ['model.layers.0.self_attn.q_proj', 'v_proj']]) {
      await writeFile(join(dir, 'adapter_config.json'), JSON.stringify({ ...config, target_modules: target }));
      const loaded = await LoraAdapter.loadAdapter(model, dir);
      expect(loaded.options.targetModules).toEqual(['q_proj', 'v_proj']);
      loaded.dispose();
    }
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify({ ...config, target_modules: 'all-linear' }));
    await expect(LoraAdapter.loadAdapter(model, dir)).rejects.toThrow(/E_MISMATCH.*missing: .*k_proj/);
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify({ ...config, target_modules: ['c_attn'] }));
    await expect(LoraAdapter.loadAdapter(model, dir)).rejects.toThrow(/E_CONFIG.*c_attn/);
    model.dispose();
  });

  it('trains only the LoRA weights: the base fingerprint is unchanged after steps', () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const base = model.fingerprint();
    const lora = LoraAdapter.attach(model, { r: 4, alpha: 8, dropout: 0.1 }, new Rng(2));
    const adapterBefore = lora.parameters.fingerprint();
    const optimizer = new AdamW({ weightDecay: 0 });
    const rng = new Rng(3);
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const mask = tf.tensor2d(MASK, undefined, 'int32');
    for (let step = 0; step < 3; step++) {
      const { loss, grads } = computeGradients(lora.parameters, () => causalLmLoss(model, ids, mask, { training: true, rng }));
      expect(grads.size).toBe(lora.parameters.names().length);
      optimizer.apply(lora.parameters, grads, 1e-2);
      disposeGradients(grads);
      loss.dispose();
    }
    expect(model.fingerprint()).toBe(base);
    expect(lora.parameters.fingerprint()).not.toBe(adapterBefore);
    tf.dispose([ids, mask]);
    optimizer.dispose();
    lora.dispose();
    model.dispose();
  });

  it('applies dropout only in training, reproducibly from the rng', () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const lora = LoraAdapter.attach(model, { r: 4, alpha: 8, dropout: 0.5 }, new Rng(2));
    randomizeB(lora, new Rng(3));
    const run = (training: boolean, seed: number) =>
      tf.tidy(() => model.forward(tf.tensor2d(IDS, undefined, 'int32'), tf.tensor2d(MASK, undefined, 'int32'), { bidirectional: true, training, rng: new Rng(seed) }).dataSync() as Float32Array);
    expect(maxAbsDiff(run(false, 1), hidden(model))).toBe(0);
    expect(maxAbsDiff(run(true, 1), run(true, 1))).toBe(0);
    expect(maxAbsDiff(run(true, 1), run(true, 2))).toBeGreaterThan(1e-4);
    expect(() => tf.tidy(() => model.forward(tf.tensor2d(IDS, undefined, 'int32'), tf.tensor2d(MASK, undefined, 'int32'), { training: true }))).toThrow(/E_STATE/);
    lora.dispose();
    model.dispose();
  });
});

describe('dropoutMask', () => {
  it('drops about `rate` of the entries and keeps the mean at 1', async () => {
    const { dropoutMask } = await import('../src/index.js');
    const values = tf.tidy(() => dropoutMask(new Rng(1), [200, 500], 0.2).dataSync() as Float32Array);
    const dropped = values.filter((v) => v === 0).length / values.length;
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(Math.abs(dropped - 0.2)).toBeLessThan(0.01);
    expect(Math.abs(mean - 1)).toBeLessThan(0.02);
    expect(new Set(values).size).toBe(2);
  });
});

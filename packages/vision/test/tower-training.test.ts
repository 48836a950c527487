import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { readSafetensors } from '@llm2clip/tensor';
import {
  ClipVisionModel,
  Eva02VisionModel,
  ImagePreprocessor,
  loadVisionTower,
  readCompanion,
  visionParamGroups,
  type VisionTower,
} from '../src/index.js';
import { tempDir, useCpu } from './helpers.js';

const PARITY = join(import.meta.dirname, 'fixtures', 'parity');

beforeAll(useCpu);

function pixels(seed: number, size: number, batch = 2): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed).normalArray(batch * 3 * size * size), [batch, 3, size, size]);
}

async function keysOf(path: string): Promise<string[]> {
  return [...(await readSafetensors(path)).tensors.keys()].sort();
}

const towers: Array<[string, () => Promise<VisionTower>, string]> = [
  ['CLIP ViT (open_clip checkpoint)', () => ClipVisionModel.fromPretrained(join(PARITY, 'open-clip')), 'visual_projection.weight'],
  ['EVA02 (EVA-CLIP checkpoint)', () => Eva02VisionModel.fromPretrained(join(PARITY, 'eva02-clip')), 'head.weight'],
];

describe.each(towers)('%s for LLM2CLIP training', (_, load, head) => {
  it('replaces the projection with a fresh one of the new width and keeps the trunk', async () => {
    const tower = await load();
    const x = pixels(1, tower.config.image_size);
    const trunkBefore = tower.parameters.toHost((name) => name !== head && !name.startsWith('head.'));
    tower.resetProjection(40, new Rng(5));
    expect(tower.dim).toBe(40);
    expect(tower.config.projection_dim).toBe(40);
    const out = tower.forward(x);
    expect(out.shape).toEqual([2, 40]);
    const trunkAfter = tower.parameters.toHost((name) => name !== head && !name.startsWith('head.'));
    for (const [name, t] of trunkBefore) expect(Array.from(trunkAfter.get(name)?.data ?? []), name).toEqual(Array.from(t.data));
    tf.dispose([x, out]);
    tower.dispose();
  });

  it('locks all but the last groups (open_clip lock_image_tower) and unlocks', async () => {
    const tower = await load();
    const all = tower.parameters.names();
    tower.lock(0);
    expect(tower.parameters.trainableNames()).toEqual([]);
    tower.lock(1);
    expect(tower.parameters.trainableNames().every((name) => name.startsWith(head.split('.')[0]))).toBe(true);
    tower.lock(2);
    const two = tower.parameters.trainableNames();
    // the last block (layer 1 of 2) and the final norm join the head
    expect(two.some((name) => /(layers|blocks)\.1\./.test(name))).toBe(true);
    expect(two.some((name) => /(layers|blocks)\.0\./.test(name))).toBe(false);
    tower.lock(2, { freezeNorms: true });
    expect(tower.parameters.trainableNames().some((name) => /norm/.test(name))).toBe(false);
    tower.lock(tower.numLayers + 2);
    expect(tower.parameters.trainableNames()).toEqual(all);
    tower.lock(0);
    tower.unlock();
    expect(tower.parameters.trainableNames()).toEqual(all);

    // gradients reach exactly the unlocked weights, and the loop does not leak tensors
    tower.lock(2);
    const x = pixels(2, tower.config.image_size);
    const trainable = tower.parameters.entries().filter(([, v]) => v.trainable).map(([, v]) => v);
    const step = (): number =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tower.forward(x))) as tf.Scalar, trainable);
        expect(Object.keys(grads)).toHaveLength(trainable.length);
        const total = Object.values(grads).reduce((sum, g) => sum + tf.sum(tf.abs(g)).dataSync()[0], 0);
        expect(total).toBeGreaterThan(0);
        return value.dataSync()[0];
      });
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    tower.dispose();
  });

  it('groups parameters: no decay for biases/norms/embeddings, layer-wise lr decay by depth', async () => {
    const tower = await load();
    const groups = visionParamGroups(tower.parameters.names(), tower.numLayers, { layerDecay: 0.5 });
    const byName = new Map(groups.map((g) => [g.name, g]));
    expect(byName.get(head)).toEqual({ name: head, weightDecay: true, lrScale: 1 });
    const noDecay = groups.filter((g) => !g.weightDecay).map((g) => g.name);
    expect(noDecay.length).toBeGreaterThan(0);
    for (const name of noDecay) expect(name).toMatch(/bias|norm|layrnorm|layernorm|layer_norm|embedding|cls_token|pos_embed/);
    // embeddings sit at depth 0: decay^(L + 1)
    const embeddings = groups.find((g) => /class_embedding|cls_token/.test(g.name));
    expect(embeddings?.lrScale).toBe(0.5 ** (tower.numLayers + 1));
    tower.dispose();
  });
});

describe('saving a trained tower', () => {
  it('writes the CLIPVisionModelWithProjection layout, names as transformers writes them, with the adapter beside it', async () => {
    const tower = await ClipVisionModel.fromPretrained(join(PARITY, 'open-clip'));
    tower.resetProjection(24, new Rng(9));
    const dir = await tempDir('save');
    const preprocessor = ImagePreprocessor.fromOpenClipConfig(JSON.parse(await readFile(join(PARITY, 'open-clip', 'open_clip_config.json'), 'utf8')));
    const adapterTensors = new Map([['adapter.proj.weight', { shape: [24, 8], dtype: 'float32' as const, data: new Rng(3).normalArray(24 * 8) }]]);
    await tower.save(dir, {
      preprocessor,
      companions: { llm2clip_adapter: { tensors: adapterTensors, config: { format: 'llm2clip.text-adapter', version: 1, inputDim: 8, outputDim: 24 }, configFile: 'adapter_config.json', weightsFile: 'adapter.safetensors' } },
    });
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ architectures: ['CLIPVisionModelWithProjection'], model_type: 'clip_vision_model', projection_dim: 24, hidden_act: 'quick_gelu', image_size: 32, patch_size: 8, hidden_size: 32, num_attention_heads: 4, intermediate_size: 128, layer_norm_eps: 1e-5, num_channels: 3, attention_dropout: 0 });
    // the same tensor names as a transformers-written checkpoint of this shape
    expect(await keysOf(join(dir, 'model.safetensors'))).toEqual(await keysOf(join(PARITY, 'hf-clip-vision', 'model.safetensors')));
    const pre = JSON.parse(await readFile(join(dir, 'preprocessor_config.json'), 'utf8'));
    expect(pre).toMatchObject({ image_processor_type: 'CLIPImageProcessor', size: { shortest_edge: 32 }, resample: 3 });
    const adapter = await readCompanion(dir, 'llm2clip_adapter', { configFile: 'adapter_config.json', weightsFile: 'adapter.safetensors' });
    expect(adapter.config).toMatchObject({ format: 'llm2clip.text-adapter', version: 1 });
    expect(Array.from(adapter.tensors.get('adapter.proj.weight')?.data ?? [])).toEqual(Array.from(adapterTensors.get('adapter.proj.weight')?.data ?? []));

    const again = await loadVisionTower(dir);
    expect(again).toBeInstanceOf(ClipVisionModel);
    const x = pixels(4, 32);
    const a = tower.forward(x);
    const b = again.forward(x);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(again.fingerprint()).toBe(tower.fingerprint());
    tf.dispose([x, a, b]);
    tower.dispose();
    again.dispose();
  });

  it('writes an EVA02 tower in timm layout (timm names, config.json with architecture + model_args) and reads it back', async () => {
    const tower = await Eva02VisionModel.fromPretrained(join(PARITY, 'eva02-clip'));
    const dir = await tempDir('save-eva');
    await tower.save(dir);
    expect(await keysOf(join(dir, 'model.safetensors'))).toEqual(await keysOf(join(PARITY, 'eva02-timm', 'model.safetensors')));
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    const fixture = JSON.parse(await readFile(join(PARITY, 'eva02-timm', 'config.json'), 'utf8'));
    expect(config.architecture).toBe(fixture.architecture);
    expect(config.model_args).toMatchObject({ ...fixture.model_args, mlp_ratio: 85 / 32 });
    const again = await loadVisionTower(dir);
    expect(again).toBeInstanceOf(Eva02VisionModel);
    const x = pixels(6, 32);
    const a = tower.forward(x);
    const b = again.forward(x);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
    tower.dispose();
    again.dispose();
  });

  it('EVA02 at another image size: positions resized, rotary tables follow the new grid', async () => {
    const tower = await Eva02VisionModel.fromPretrained(join(PARITY, 'eva02-timm'), { imageSize: 48 });
    expect(tower.config.image_size).toBe(48);
    expect(tower.parameters.get('pos_embed').shape).toEqual([1, 37, 32]);
    const x = pixels(7, 48, 1);
    const out = tower.forward(x);
    expect(out.shape).toEqual([1, 16]);
    expect(Array.from(out.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose([x, out]);
    tower.dispose();
  });
});

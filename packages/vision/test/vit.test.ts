import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Rng, isLlm2ClipError } from '@llm2clip/core';
import { readSafetensors, writeSafetensors } from '@llm2clip/tensor';
import { ClipImageEmbedder, ClipVisionModel, ImagePreprocessor, noWeightDecay, layerDecayScale } from '../src/index.js';
import { TINY_VISION, tempDir, useCpu } from './helpers.js';

beforeAll(useCpu);

function randomPixels(seed: number, batch = 2): tf.Tensor4D {
  const rng = new Rng(seed);
  return tf.tensor4d(rng.normalArray(batch * 3 * 16 * 16), [batch, 3, 16, 16]);
}

describe('ClipVisionModel', () => {
  it('saves and loads back in the Hugging Face layout with identical outputs', async () => {
    const model = ClipVisionModel.create(TINY_VISION, new Rng(1));
    const pixels = randomPixels(2);
    const before = model.forward(pixels);
    expect(before.shape).toEqual([2, 24]);
    const dir = await tempDir('vit');
    await model.save(dir);
    const file = await readSafetensors(join(dir, 'model.safetensors'));
    expect([...file.tensors.keys()]).toContain('vision_model.pre_layrnorm.weight');
    expect(file.tensors.get('vision_model.embeddings.patch_embedding.weight')?.shape).toEqual([32, 3, 8, 8]);
    expect(file.tensors.get('visual_projection.weight')?.shape).toEqual([24, 32]);
    expect(file.tensors.has('vision_model.encoder.layers.1.self_attn.q_proj.bias')).toBe(true);
    const loaded = await ClipVisionModel.fromPretrained(dir);
    const after = loaded.forward(pixels);
    expect(Array.from(after.dataSync())).toEqual(Array.from(before.dataSync()));
    expect(loaded.fingerprint()).toBe(model.fingerprint());
    tf.dispose([pixels, before, after]);
    model.dispose();
    loaded.dispose();
  });

  it('loads a CLIPConfig with vision_config and skips text-tower tensors', async () => {
    const model = ClipVisionModel.create(TINY_VISION, new Rng(3));
    const dir = await tempDir('vit-full');
    await model.save(dir);
    const { writeJsonAtomic } = await import('@llm2clip/core');
    await writeJsonAtomic(join(dir, 'config.json'), { model_type: 'clip', projection_dim: 24, vision_config: { ...TINY_VISION, projection_dim: 512 }, text_config: {} });
    const file = await readSafetensors(join(dir, 'model.safetensors'));
    file.tensors.set('text_projection.weight', { shape: [2, 2], dtype: 'float32', data: new Float32Array(4) });
    file.tensors.set('logit_scale', { shape: [], dtype: 'float32', data: new Float32Array([2.6]) });
    await writeSafetensors(join(dir, 'model.safetensors'), file.tensors);
    const loaded = await ClipVisionModel.fromPretrained(dir);
    expect(loaded.config.projection_dim).toBe(24);
    expect(loaded.config.patch_size).toBe(8);
    loaded.dispose();
    model.dispose();
  });

  it('names a missing tensor and a mis-shaped tensor', async () => {
    const model = ClipVisionModel.create(TINY_VISION, new Rng(4));
    const dir = await tempDir('vit-bad');
    await model.save(dir);
    const path = join(dir, 'model.safetensors');
    const file = await readSafetensors(path);
    const missing = new Map(file.tensors);
    missing.delete('vision_model.encoder.layers.1.mlp.fc2.bias');
    await writeSafetensors(path, missing);
    const error1 = await ClipVisionModel.fromPretrained(dir).catch((e: unknown) => e);
    expect(isLlm2ClipError(error1, 'E_MISMATCH')).toBe(true);
    expect(String((error1 as Error).message)).toContain('vision_model.encoder.layers.1.mlp.fc2.bias');

    const misshaped = new Map(file.tensors);
    misshaped.set('vision_model.embeddings.position_embedding.weight', { shape: [4, 32], dtype: 'float32', data: new Float32Array(128) });
    await writeSafetensors(path, misshaped);
    const error2 = await ClipVisionModel.fromPretrained(dir).catch((e: unknown) => e);
    expect(isLlm2ClipError(error2, 'E_SHAPE')).toBe(true);
    expect((error2 as Error).message).toContain('vision_model.embeddings.position_embedding.weight');
    model.dispose();
  });

  it('makes the class token output depend on every patch', () => {
    const model = ClipVisionModel.create(TINY_VISION, new Rng(5));
    const pixels = randomPixels(6, 1);
    const grad = tf.grad((p: tf.Tensor) => tf.sum(model.forward(p as tf.Tensor4D)))(pixels);
    // per-patch gradient magnitude: [1,3,2,8,2,8] → sum over everything but the 2×2 patch grid
    const perPatch = tf.sum(tf.abs(tf.reshape(grad, [3, 2, 8, 2, 8])), [0, 2, 4]);
    const values = Array.from(perPatch.dataSync());
    expect(values).toHaveLength(4);
    for (const v of values) expect(v).toBeGreaterThan(1e-6);
    tf.dispose([pixels, grad, perPatch]);
    model.dispose();
  });

  it('computes the patch embedding as a matmul equal to the stride-p convolution', () => {
    const model = ClipVisionModel.create(TINY_VISION, new Rng(7));
    const pixels = randomPixels(8, 3);
    const viaMatmul = model.patchEmbeddings(pixels);
    const kernel = model.parameters.get('vision_model.embeddings.patch_embedding.weight'); // [out, in, kh, kw]
    const viaConv = tf.tidy(() => {
      const nhwc = tf.transpose(pixels, [0, 2, 3, 1]) as tf.Tensor4D;
      const hwio = tf.transpose(kernel, [2, 3, 1, 0]) as tf.Tensor4D;
      return tf.reshape(tf.conv2d(nhwc, hwio, 8, 'valid'), [3, 4, 32]);
    });
    const a = viaMatmul.dataSync();
    const b = viaConv.dataSync();
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    expect(maxDiff).toBeLessThan(1e-5);
    tf.dispose([pixels, viaMatmul, viaConv]);
    model.dispose();
  });

  it('resets the projection to a new dimension and keeps the rest', () => {
    const model = ClipVisionModel.create(TINY_VISION, new Rng(9));
    const cls = model.parameters.get('vision_model.embeddings.class_embedding').dataSync().slice();
    const tensorsBefore = tf.memory().numTensors;
    model.resetProjection(40, new Rng(10));
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(model.dim).toBe(40);
    expect(model.parameters.get('visual_projection.weight').shape).toEqual([40, 32]);
    expect(Array.from(model.parameters.get('vision_model.embeddings.class_embedding').dataSync())).toEqual(Array.from(cls));
    const pixels = randomPixels(11, 2);
    const out = model.forward(pixels);
    expect(out.shape).toEqual([2, 40]);
    tf.dispose([pixels, out]);
    model.dispose();
  });

  it('embeds images in batches through ClipImageEmbedder', async () => {
    const model = ClipVisionModel.create(TINY_VISION, new Rng(12));
    const embedder = new ClipImageEmbedder(model, new ImagePreprocessor({ imageSize: 16 }), { batchSize: 2 });
    const noise = new Rng(13);
    const images = Array.from({ length: 3 }, () => ({ kind: 'raw' as const, width: 20, height: 16, channels: 3 as const, data: Uint8Array.from({ length: 20 * 16 * 3 }, () => noise.int(0, 255)) }));
    const before = tf.memory().numTensors;
    const matrix = await embedder.embed(images);
    expect(tf.memory().numTensors).toBe(before);
    expect([matrix.rows, matrix.dim]).toEqual([3, 24]);
    const single = await embedder.embed([images[2]]);
    for (let i = 0; i < 24; i++) expect(single.data[i]).toBeCloseTo(matrix.data[48 + i], 5);
    const fingerprintBefore = embedder.describe().fingerprint;
    model.parameters.get('visual_projection.weight').assign(tf.zeros([24, 32]));
    expect(embedder.describe().fingerprint).not.toBe(fingerprintBefore);
    model.dispose();
  });

  it('groups parameters for weight decay and layer-wise lr decay', () => {
    expect(noWeightDecay('vision_model.encoder.layers.0.self_attn.q_proj.bias')).toBe(true);
    expect(noWeightDecay('vision_model.encoder.layers.0.layer_norm1.weight')).toBe(true);
    expect(noWeightDecay('vision_model.pre_layrnorm.weight')).toBe(true);
    expect(noWeightDecay('vision_model.post_layernorm.weight')).toBe(true);
    expect(noWeightDecay('vision_model.embeddings.class_embedding')).toBe(true);
    expect(noWeightDecay('vision_model.embeddings.position_embedding.weight')).toBe(true);
    expect(noWeightDecay('text_model.embeddings.token_embedding.weight')).toBe(true);
    expect(noWeightDecay('logit_scale')).toBe(true);
    expect(noWeightDecay('vision_model.encoder.layers.0.mlp.fc1.weight')).toBe(false);
    expect(noWeightDecay('visual_projection.weight')).toBe(false);
    expect(noWeightDecay('vision_model.embeddings.patch_embedding.weight')).toBe(false);
    expect(layerDecayScale('visual_projection.weight', 4, 0.5)).toBe(1);
    expect(layerDecayScale('vision_model.encoder.layers.3.mlp.fc1.weight', 4, 0.5)).toBe(0.5);
    expect(layerDecayScale('vision_model.encoder.layers.0.mlp.fc1.weight', 4, 0.5)).toBe(0.0625);
    expect(layerDecayScale('vision_model.embeddings.class_embedding', 4, 0.5)).toBe(0.03125);
    expect(layerDecayScale('adapter.blocks.0.fc1.weight', 4, 0.5)).toBe(1);
    expect(layerDecayScale('logit_scale', 4, 0.5)).toBe(1);
    // EVA02 / timm names
    expect(layerDecayScale('blocks.0.mlp.fc1_g.weight', 4, 0.5)).toBe(0.0625);
    expect(layerDecayScale('cls_token', 4, 0.5)).toBe(0.03125);
    expect(layerDecayScale('head.weight', 4, 0.5)).toBe(1);
    for (const name of ['cls_token', 'pos_embed', 'blocks.1.attn.q_proj.bias', 'blocks.1.attn.norm.weight', 'blocks.1.mlp.norm.bias', 'norm.weight', 'visual.positional_embedding', 'visual.ln_pre.weight']) {
      expect(noWeightDecay(name)).toBe(true);
    }
    for (const name of ['blocks.1.attn.q_proj.weight', 'blocks.1.mlp.fc2.weight', 'patch_embed.proj.weight', 'head.weight']) expect(noWeightDecay(name)).toBe(false);
  });
});

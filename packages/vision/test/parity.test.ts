import * as tf from '@tensorflow/tfjs-core';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { readSafetensors, writeSafetensors, type HostTensor } from '@llm2clip/tensor';
import {
  ClipTextModel,
  ClipVisionModel,
  Eva02VisionModel,
  ImagePreprocessor,
  loadVisionTower,
  resizePositionEmbedding,
  type VisionTower,
} from '../src/index.js';
import { tempDir, useCpu } from './helpers.js';

// tiny random towers in the real layouts + PyTorch reference outputs, written by
// scripts/make_parity_fixtures.py (PyTorch 1.13 primitives only)
const PARITY = join(import.meta.dirname, 'fixtures', 'parity');

beforeAll(useCpu);

async function reference(name: string): Promise<Map<string, HostTensor>> {
  return (await readSafetensors(join(PARITY, name, 'reference.safetensors'))).tensors;
}

function input(ref: Map<string, HostTensor>, name: string): tf.Tensor {
  const t = ref.get(name) as HostTensor;
  return tf.tensor(t.data, t.shape, t.dtype);
}

/** max |actual − expected| / max |expected|. */
function relativeError(actual: tf.Tensor, expected: HostTensor): number {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.dataSync();
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - expected.data[i]));
    norm = Math.max(norm, Math.abs(expected.data[i]));
  }
  return diff / norm;
}

function expectClose(actual: tf.Tensor, expected: HostTensor | undefined): void {
  expect(expected).toBeDefined();
  expect(relativeError(actual, expected as HostTensor)).toBeLessThanOrEqual(1e-4);
  actual.dispose();
}

describe('Hugging Face CLIPVisionModelWithProjection layout', () => {
  it('matches the reference hidden states, pooled output and image embeddings', async () => {
    const ref = await reference('hf-clip-vision');
    const model = await ClipVisionModel.fromPretrained(join(PARITY, 'hf-clip-vision'));
    const pixels = input(ref, 'pixel_values') as tf.Tensor4D;
    expectClose(model.hiddenStates(pixels), ref.get('last_hidden_state'));
    expectClose(model.pooledOutput(pixels), ref.get('pooler_output'));
    expectClose(model.forward(pixels), ref.get('image_embeds'));
    pixels.dispose();
    model.dispose();
  });

  it('at another image size, interpolates positions as interpolate_pos_encoding does', async () => {
    const ref = await reference('hf-clip-vision');
    const model = await ClipVisionModel.fromPretrained(join(PARITY, 'hf-clip-vision'), { imageSize: 48 });
    expect(model.config.image_size).toBe(48);
    const pixels = input(ref, 'pixel_values_48') as tf.Tensor4D;
    expectClose(model.forward(pixels), ref.get('image_embeds_48'));
    // open_clip's antialiased resize gives other positions, hence other features
    const other = await ClipVisionModel.fromPretrained(join(PARITY, 'hf-clip-vision'), { imageSize: 48, positionInterpolation: 'open_clip' });
    const features = other.forward(pixels);
    expect(relativeError(features, ref.get('image_embeds_48') as HostTensor)).toBeGreaterThan(1e-3);
    tf.dispose([pixels, features]);
    model.dispose();
    other.dispose();
  });

  it('a CLIPVisionModel checkpoint (no projection) loads with a fresh projection and the same pooled output', async () => {
    const ref = await reference('hf-clip-vision');
    const dir = await tempDir('no-proj');
    const tensors = (await readSafetensors(join(PARITY, 'hf-clip-vision', 'model.safetensors'))).tensors;
    tensors.delete('visual_projection.weight');
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    const config = JSON.parse(await readFile(join(PARITY, 'hf-clip-vision', 'config.json'), 'utf8'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['CLIPVisionModel'] }));
    const model = await ClipVisionModel.fromPretrained(dir, { rng: new Rng(1) });
    const pixels = input(ref, 'pixel_values') as tf.Tensor4D;
    expectClose(model.pooledOutput(pixels), ref.get('pooler_output'));
    const features = model.forward(pixels);
    expect(features.shape).toEqual([2, 16]);
    tf.dispose([pixels, features]);
    model.dispose();
  });

  it('reads preprocessor_config.json into the same preprocessing', async () => {
    const json = JSON.parse(await readFile(join(PARITY, 'hf-clip-vision', 'preprocessor_config.json'), 'utf8'));
    const pre = ImagePreprocessor.fromPreprocessorConfig(json);
    expect(pre.imageSize).toBe(32);
    expect(pre.toPreprocessorConfig()).toMatchObject({ size: { shortest_edge: 32 }, crop_size: { height: 32, width: 32 }, resample: 3 });
    expect(() => ImagePreprocessor.fromPreprocessorConfig({ ...json, resample: 2 })).toThrow(/bicubic/);
  });
});

describe('Hugging Face CLIPModel layout', () => {
  it('loads the vision tower out of a full CLIP checkpoint', async () => {
    const ref = await reference('hf-clip');
    const model = await ClipVisionModel.fromPretrained(join(PARITY, 'hf-clip'));
    expect(model.config.hidden_act).toBe('gelu');
    expect(model.config.layer_norm_eps).toBe(1e-6);
    const pixels = input(ref, 'pixel_values') as tf.Tensor4D;
    expectClose(model.forward(pixels), ref.get('image_embeds'));
    pixels.dispose();
    model.dispose();
  });

  it('the text tower pools at argmax(ids) for legacy eos_token_id 2', async () => {
    const ref = await reference('hf-clip');
    const model = await ClipTextModel.fromPretrained(join(PARITY, 'hf-clip'));
    const ids = input(ref, 'input_ids') as tf.Tensor2D;
    expectClose(model.hiddenStates(ids), ref.get('text_last_hidden_state'));
    expectClose(model.pooledOutput(ids), ref.get('text_pooler_output'));
    expectClose(model.forward(ids), ref.get('text_embeds'));
    ids.dispose();
    model.dispose();
  });

  it('the text tower pools at the first eos for other eos ids', async () => {
    const ref = await reference('hf-clip');
    const dir = await tempDir('eos');
    await cp(join(PARITY, 'hf-clip'), dir, { recursive: true });
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    config.text_config.eos_token_id = 63;
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    const model = await ClipTextModel.fromPretrained(dir);
    const ids = input(ref, 'input_ids_first_eos') as tf.Tensor2D;
    const positions = model.poolingPositions(ids);
    expect(Array.from(positions.dataSync())).toEqual([2]);
    expectClose(model.forward(ids), ref.get('text_embeds_first_eos'));
    tf.dispose([ids, positions]);
    model.dispose();
  });
});

describe('open_clip layout', () => {
  it('converts visual.* (in_proj split, proj transposed) and matches encode_image', async () => {
    const ref = await reference('open-clip');
    const model = await ClipVisionModel.fromPretrained(join(PARITY, 'open-clip'));
    expect(model.config.hidden_act).toBe('quick_gelu');
    expect(model.dim).toBe(16);
    const pixels = input(ref, 'pixel_values') as tf.Tensor4D;
    expectClose(model.forward(pixels), ref.get('image_features'));
    pixels.dispose();
    model.dispose();
  });

  it('resizes positions like resize_pos_embed when built at another image size', async () => {
    const ref = await reference('open-clip');
    const tensors = (await readSafetensors(join(PARITY, 'open-clip', 'open_clip_model.safetensors'))).tensors;
    const resized = resizePositionEmbedding(tensors.get('visual.positional_embedding') as HostTensor, 6, 'open_clip');
    const asTensor = tf.tensor(resized.data, resized.shape);
    expectClose(asTensor, ref.get('positional_embedding_48'));
    const model = await ClipVisionModel.fromPretrained(join(PARITY, 'open-clip'), { imageSize: 48 });
    const pixels = input(ref, 'pixel_values_48') as tf.Tensor4D;
    expectClose(model.forward(pixels), ref.get('image_features_48'));
    pixels.dispose();
    model.dispose();
  });

  it('loads the text tower and matches encode_text (argmax pooling)', async () => {
    const ref = await reference('open-clip');
    const model = await ClipTextModel.fromPretrained(join(PARITY, 'open-clip'));
    const ids = input(ref, 'input_ids') as tf.Tensor2D;
    expectClose(model.forward(ids), ref.get('text_features'));
    ids.dispose();
    model.dispose();
  });
});

describe('EVA02 (EVA-CLIP and timm layouts)', () => {
  it.each(['eva02-clip', 'eva02-timm'])('%s matches the reference tokens, pooled state and features', async (name) => {
    const ref = await reference(name);
    const model = await Eva02VisionModel.fromPretrained(join(PARITY, name));
    expect(model.config).toMatchObject({ hidden_size: 32, intermediate_size: 85, num_attention_heads: 4, rope_reference_grid: 16, projection_dim: 16 });
    const pixels = input(ref, 'pixel_values') as tf.Tensor4D;
    expectClose(model.hiddenStates(pixels), ref.get('last_hidden_state'));
    expectClose(model.pooledOutput(pixels), ref.get('pooled'));
    expectClose(model.forward(pixels), ref.get('image_features'));
    pixels.dispose();
    model.dispose();
  });

  it('open_clip hub layout with a timm EVA02 trunk (visual.trunk.*) loads the same tower', async () => {
    const ref = await reference('eva02-timm');
    const dir = await tempDir('oc-timm');
    const timm = (await readSafetensors(join(PARITY, 'eva02-timm', 'model.safetensors'))).tensors;
    await writeSafetensors(join(dir, 'open_clip_model.safetensors'), new Map([...timm].map(([name, t]) => [`visual.trunk.${name}`, t])));
    const args = JSON.parse(await readFile(join(PARITY, 'eva02-timm', 'config.json'), 'utf8')).model_args;
    const kwargs = { img_size: args.img_size, patch_size: args.patch_size, embed_dim: args.embed_dim, depth: args.depth, num_heads: args.num_heads, mlp_ratio: args.mlp_ratio, ref_feat_shape: args.ref_feat_shape };
    await writeFile(join(dir, 'open_clip_config.json'), JSON.stringify({ model_cfg: { embed_dim: 16, vision_cfg: { image_size: 32, timm_model_name: 'eva02_base_patch16_clip_224', timm_model_pretrained: false, timm_pool: 'token', timm_proj: null, timm_model_kwargs: kwargs } } }));
    const tower = await loadVisionTower(dir);
    expect(tower).toBeInstanceOf(Eva02VisionModel);
    const pixels = input(ref, 'pixel_values') as tf.Tensor4D;
    expectClose(tower.forward(pixels), ref.get('image_features'));
    pixels.dispose();
    tower.dispose();
  });

  it('loadVisionTower picks the architecture from the directory', async () => {
    const towers: VisionTower[] = [];
    for (const name of ['eva02-clip', 'eva02-timm', 'open-clip', 'hf-clip-vision', 'hf-clip']) towers.push(await loadVisionTower(join(PARITY, name)));
    expect(towers.map((t) => t.constructor.name)).toEqual(['Eva02VisionModel', 'Eva02VisionModel', 'ClipVisionModel', 'ClipVisionModel', 'ClipVisionModel']);
    for (const tower of towers) tower.dispose();
  });

  it('refuses to load an EVA checkpoint as a CLIP ViT, naming the field', async () => {
    await expect(ClipVisionModel.fromPretrained(join(PARITY, 'eva02-clip'))).rejects.toMatchObject({ code: 'E_FORMAT' });
    await expect(ClipVisionModel.fromPretrained(join(PARITY, 'eva02-timm'))).rejects.toMatchObject({ code: 'E_FORMAT' });
  });
});

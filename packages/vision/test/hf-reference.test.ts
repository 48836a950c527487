import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RawImage } from '@llm2clip/core';
import { readSafetensors, type HostTensor } from '@llm2clip/tensor';
import { ClipTextModel, ClipVisionModel, Eva02VisionModel, ImagePreprocessor, resizeBicubicPil, timmEvaVisionConfig } from '../src/index.js';
import { useCpu } from './helpers.js';

// written by the real Python stack (transformers 5.17, timm 1.0.29, Pillow 12.3; see
// fixtures/hf-reference/README.md): the independent check of the torch-primitive fixtures
const DIR = join(import.meta.dirname, 'fixtures', 'hf-reference');

beforeAll(useCpu);

async function reference(name: string): Promise<Map<string, HostTensor>> {
  return (await readSafetensors(join(DIR, name, 'reference.safetensors'))).tensors;
}

function input(ref: Map<string, HostTensor>, name: string): tf.Tensor {
  const t = ref.get(name) as HostTensor;
  return tf.tensor(t.data, t.shape, t.dtype);
}

function expectClose(actual: tf.Tensor, expected: HostTensor | undefined): void {
  expect(expected).toBeDefined();
  const e = expected as HostTensor;
  expect(actual.shape).toEqual(e.shape);
  const a = actual.dataSync();
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - e.data[i]));
    norm = Math.max(norm, Math.abs(e.data[i]));
  }
  expect(diff / norm).toBeLessThanOrEqual(1e-4);
  actual.dispose();
}

describe('towers saved by transformers / timm themselves', () => {
  it('CLIPModel (transformers 5): vision states, pooled output, features, and at 48 px', async () => {
    const ref = await reference('clip-model');
    const vision = await ClipVisionModel.fromPretrained(join(DIR, 'clip-model'));
    const pixels = input(ref, 'pixel_values') as tf.Tensor4D;
    expectClose(vision.hiddenStates(pixels), ref.get('vision.last_hidden_state'));
    expectClose(vision.pooledOutput(pixels), ref.get('vision.pooler_output'));
    expectClose(vision.forward(pixels), ref.get('image_features'));
    const at48 = await ClipVisionModel.fromPretrained(join(DIR, 'clip-model'), { imageSize: 48 });
    const pixels48 = input(ref, 'pixel_values_48') as tf.Tensor4D;
    expectClose(at48.pooledOutput(pixels48), ref.get('vision48.pooler_output'));
    expectClose(at48.forward(pixels48), ref.get('image_features_48'));
    tf.dispose([pixels, pixels48]);
    vision.dispose();
    at48.dispose();
  });

  it('CLIPModel (transformers 5): text states, first-eos pooling, features', async () => {
    const ref = await reference('clip-model');
    const text = await ClipTextModel.fromPretrained(join(DIR, 'clip-model'));
    const ids = input(ref, 'input_ids') as tf.Tensor2D;
    expectClose(text.hiddenStates(ids), ref.get('text.last_hidden_state'));
    expectClose(text.pooledOutput(ids), ref.get('text.pooler_output'));
    expectClose(text.forward(ids), ref.get('text_features'));
    ids.dispose();
    text.dispose();
  });

  it('CLIPVisionModelWithProjection with exact GELU and eps 1e-6', async () => {
    const ref = await reference('clip-vision-with-projection-gelu');
    const model = await ClipVisionModel.fromPretrained(join(DIR, 'clip-vision-with-projection-gelu'));
    const pixels = input(ref, 'pixel_values') as tf.Tensor4D;
    expectClose(model.hiddenStates(pixels), ref.get('last_hidden_state'));
    expectClose(model.forward(pixels), ref.get('image_embeds'));
    pixels.dispose();
    model.dispose();
  });

  it('timm eva02_large_patch14_clip_224 (shrunk): forward_features and head', async () => {
    const ref = await reference('timm-eva02-clip');
    const json = JSON.parse(await readFile(join(DIR, 'timm-eva02-clip', 'config.json'), 'utf8'));
    const weights = (await readSafetensors(join(DIR, 'timm-eva02-clip', 'model.safetensors'))).tensors;
    // this fixture lists create_model kwargs as `timm_kwargs` (a hub config.json calls them model_args)
    const model = Eva02VisionModel.fromWeights(timmEvaVisionConfig({ architecture: json.architecture, model_args: json.timm_kwargs }), weights);
    expect(model.config.rope_reference_grid).toBe(4);
    const pixels = input(ref, 'pixel_values') as tf.Tensor4D;
    expectClose(model.hiddenStates(pixels), ref.get('features'));
    expectClose(model.forward(pixels), ref.get('head'));
    pixels.dispose();
    model.dispose();
  });
});

describe('images preprocessed by Pillow 12.3 and transformers 5', () => {
  const images = ['gradient', 'photo', 'text'];
  const decoded = new Map<string, RawImage>();
  let ref: Map<string, HostTensor>;

  beforeAll(async () => {
    ref = await reference('clip-preprocess');
    for (const name of images) {
      const { data, info } = await sharp(await readFile(join(DIR, 'clip-preprocess', `${name}.png`))).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      decoded.set(name, { kind: 'raw', width: info.width, height: info.height, channels: 3, data: new Uint8Array(data) });
    }
  });

  it.each(images.flatMap((name) => [32, 224].map((size) => [name, size] as const)))('%s, shortest edge %i: byte-exact with PIL bicubic', (name, size) => {
    const expected = ref.get(`${name}.pil_bicubic_short${size}`) as HostTensor;
    const [height, width] = expected.shape;
    const ours = resizeBicubicPil(decoded.get(name) as RawImage, width, height);
    let worst = 0;
    for (let i = 0; i < ours.data.length; i++) worst = Math.max(worst, Math.abs(ours.data[i] - expected.data[i]));
    expect(worst).toBe(0);
  });

  it.each(images.flatMap((name) => [32, 224].map((size) => [name, size] as const)))('%s at %i: within 2 grey levels of transformers 5 (torchvision) CLIPImageProcessor', async (name, size) => {
    const pre = new ImagePreprocessor({ imageSize: size });
    const ours = await pre.preprocess(decoded.get(name) as RawImage);
    const theirs = ref.get(`${name}.CLIPImageProcessor.${size}`) as HostTensor;
    expect(theirs.shape).toEqual([3, size, size]);
    let worst = 0;
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < size * size; i++) {
        const k = c * size * size + i;
        worst = Math.max(worst, Math.abs(ours[k] - theirs.data[k]) * pre.std[c] * 255);
      }
    }
    // the stored values are float16 (≈0.2 grey levels of rounding); the resizers differ by ≤ 2 levels
    expect(worst).toBeLessThan(2.5);
  });
});

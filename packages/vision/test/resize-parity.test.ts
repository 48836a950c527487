import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RawImage } from '@llm2clip/core';
import { readSafetensors, type HostTensor } from '@llm2clip/tensor';
import { ImagePreprocessor, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, cropRaw, resizeBicubicFloat, resizeBicubicPil } from '../src/index.js';
import { useCpu } from './helpers.js';

// written by scripts/make_preprocess_fixtures.py (Pillow 9.4 + PyTorch 1.13)
const FIXTURES = join(import.meta.dirname, 'fixtures', 'preprocess');

interface Described {
  images: Record<string, { file: string; size: number; width: number; height: number }>;
}

let reference: Map<string, HostTensor>;
let described: Described;
const decoded = new Map<string, RawImage>();

beforeAll(async () => {
  await useCpu();
  reference = (await readSafetensors(join(FIXTURES, 'reference.safetensors'))).tensors;
  described = JSON.parse(await readFile(join(FIXTURES, 'reference.json'), 'utf8')) as Described;
  for (const [name, info] of Object.entries(described.images)) {
    const { data, info: meta } = await sharp(await readFile(join(FIXTURES, info.file))).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    decoded.set(name, { kind: 'raw', width: meta.width, height: meta.height, channels: 3, data: new Uint8Array(data) });
  }
});

function maxByteDifference(actual: Uint8Array, expected: HostTensor): number {
  expect(actual.length).toBe(expected.data.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected.data[i]));
  return worst;
}

function relativeError(actual: Float32Array, expected: Float32Array | Int32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < actual.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    norm = Math.max(norm, Math.abs(expected[i]));
  }
  return diff / norm;
}

describe('Pillow-exact bicubic resize', () => {
  const names = ['gradient', 'text', 'photo', 'noise'];

  it.each(names)('resizes %s exactly like PIL.Image.resize(BICUBIC) (shortest edge)', (name) => {
    const image = decoded.get(name) as RawImage;
    const expected = reference.get(`${name}.resized`) as HostTensor;
    const [height, width] = expected.shape;
    const ours = resizeBicubicPil(image, width, height);
    // the issue allows one grey level; the port is bit-exact
    expect(maxByteDifference(ours.data, expected)).toBe(0);
  });

  it.each(names)('CLIPImageProcessor geometry on %s: shortest edge, floor-centred crop', async (name) => {
    const info = described.images[name];
    const pre = new ImagePreprocessor({ imageSize: info.size });
    const crop = await pre.resizeAndCrop(decoded.get(name) as RawImage);
    expect(maxByteDifference(crop.data, reference.get(`${name}.clip`) as HostTensor)).toBe(0);
  });

  it.each(names)('open_clip eval geometry on %s: torchvision CenterCrop rounds its offsets', async (name) => {
    const info = described.images[name];
    const pre = new ImagePreprocessor({ imageSize: info.size, centerCrop: 'torchvision' });
    const crop = await pre.resizeAndCrop(decoded.get(name) as RawImage);
    expect(maxByteDifference(crop.data, reference.get(`${name}.open_clip`) as HostTensor)).toBe(0);
  });

  it('the encoded PNG goes through the same path as its decoded pixels', async () => {
    const pre = new ImagePreprocessor({ imageSize: 40 });
    const bytes = new Uint8Array(await readFile(join(FIXTURES, 'photo.png')));
    const chw = await pre.preprocess({ kind: 'encoded', bytes, format: 'png' });
    const expected = reference.get('photo.clip_normalized') as HostTensor;
    expect(relativeError(chw, expected.data)).toBeLessThan(1e-5);
  });

  it('RandomResizedCrop resizes its box like torchvision on a PIL image', () => {
    const box = reference.get('gradient.rrc_box')?.data as Int32Array;
    const [top, left, height, width] = box;
    const ours = resizeBicubicPil(cropRaw(decoded.get('gradient') as RawImage, { top, left, width, height }), 40, 40);
    expect(maxByteDifference(ours.data, reference.get('gradient.rrc') as HostTensor)).toBe(0);
  });

  it('sharp\'s own cubic kernel is not PIL\'s (why the resize is ported)', async () => {
    const image = decoded.get('text') as RawImage;
    const expected = reference.get('text.resized') as HostTensor;
    const [height, width] = expected.shape;
    const viaSharp = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .resize(width, height, { fit: 'fill', kernel: 'cubic' })
      .raw()
      .toBuffer();
    expect(maxByteDifference(new Uint8Array(viaSharp), expected)).toBeGreaterThan(1);
  });

  it('normalises with the OpenAI mean and std by default', () => {
    const pre = new ImagePreprocessor({ imageSize: 2 });
    expect(pre.mean).toEqual(OPENAI_CLIP_MEAN);
    expect(pre.std).toEqual(OPENAI_CLIP_STD);
  });
});

describe('the tfjs-free image-ops entry', () => {
  it('exports the same preprocessing pieces as the main entry', async () => {
    const ops = await import('../src/image-ops.js');
    const main = await import('../src/index.js');
    for (const name of ['resizeBicubicPil', 'cropRaw', 'resizeBicubicFloat', 'randomResizedCropBox', 'shortestEdgeSize', 'centerCropBoxOf', 'roundHalfEven'] as const) {
      expect(ops[name]).toBe(main[name]);
    }
  });
});

describe('PyTorch-exact bicubic interpolation of float grids', () => {
  const cases: Array<[number, number, boolean]> = [
    [10, 10, false],
    [10, 10, true],
    [4, 4, false],
    [4, 4, true],
    [9, 5, false],
    [9, 5, true],
  ];
  it.each(cases)('%ix%i (antialias %s) matches F.interpolate(mode="bicubic", align_corners=False)', (height, width, antialias) => {
    const input = reference.get('grid.input') as HostTensor;
    const [h, w, c] = input.shape;
    const out = resizeBicubicFloat({ width: w, height: h, channels: c, data: input.data as Float32Array }, width, height, { antialias });
    const expected = reference.get(`grid.${height}x${width}.${antialias ? 'aa' : 'plain'}`) as HostTensor;
    expect(relativeError(out.data, expected.data)).toBeLessThan(1e-6);
  });
});

import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, type EncodedImage, type RawImage } from '@llm2clip/core';
import { ImagePreprocessor, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, randomResizedCropBox, roundHalfEven } from '../src/index.js';
import { useCpu } from './helpers.js';

beforeAll(useCpu);

function raw(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * 3);
  }
  return { kind: 'raw', width, height, channels: 3, data };
}

async function png(image: RawImage): Promise<EncodedImage> {
  const bytes = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer();
  return { kind: 'encoded', bytes: new Uint8Array(bytes), format: 'png' };
}

describe('ImagePreprocessor', () => {
  it('normalises an image of known colours to the expected values', async () => {
    const pre = new ImagePreprocessor({ imageSize: 16 });
    // left half pure red, right half (0, 128, 255)
    const image = await png(raw(16, 16, (x) => (x < 8 ? [255, 0, 0] : [0, 128, 255])));
    const chw = await pre.preprocess(image);
    expect(chw).toHaveLength(3 * 16 * 16);
    const at = (c: number, y: number, x: number): number => chw[c * 256 + y * 16 + x];
    const expectNear = (value: number, byte: number, c: number): void => expect(value).toBeCloseTo((byte / 255 - OPENAI_CLIP_MEAN[c]) / OPENAI_CLIP_STD[c], 5);
    expectNear(at(0, 5, 2), 255, 0);
    expectNear(at(1, 5, 2), 0, 1);
    expectNear(at(2, 5, 2), 0, 2);
    expectNear(at(0, 12, 13), 0, 0);
    expectNear(at(1, 12, 13), 128, 1);
    expectNear(at(2, 12, 13), 255, 2);
  });

  it('center-crops the longer side symmetrically', async () => {
    const pre = new ImagePreprocessor({ imageSize: 16, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(pre.centerCropBox(24, 16)).toEqual({ left: 4, top: 0, width: 16, height: 16 });
    expect(pre.centerCropBox(16, 21)).toEqual({ left: 0, top: 2, width: 16, height: 16 });
    // 24×16: no resize needed; column x has red = 10·x, so the crop starts at column 4
    const chw = await pre.preprocess(await png(raw(24, 16, (x, y) => [10 * x, y, 0])));
    expect(Math.round(chw[0] * 255)).toBe(40);
    expect(Math.round(chw[15] * 255)).toBe(190);
    expect(Math.round(chw[16 * 5] * 255)).toBe(40);
    expect(Math.round(chw[256 + 16 * 5] * 255)).toBe(5);
  });

  it('resizes a non-square image so that the shorter side equals imageSize', async () => {
    const pre = new ImagePreprocessor({ imageSize: 16 });
    const wide = await pre.resizeShortestEdge(await png(raw(40, 20, (x, y) => [x * 5, y * 10, 0])));
    expect([wide.width, wide.height]).toEqual([32, 16]);
    const tall = await pre.resizeShortestEdge(raw(20, 50, () => [1, 2, 3]));
    expect([tall.width, tall.height]).toEqual([16, 40]);
    expect(pre.resizedSize(30, 17)).toEqual({ width: 28, height: 16 });
    const batch = await pre.preprocessBatch([raw(40, 20, () => [9, 9, 9]), raw(20, 50, () => [1, 2, 3])]);
    expect(batch.shape).toEqual([2, 3, 16, 16]);
    batch.dispose();
  });

  it('draws the same random resized crop for the same seed', async () => {
    const pre = new ImagePreprocessor({ imageSize: 16 });
    const noise = new Rng(1);
    const image = await png(raw(32, 32, () => [noise.int(0, 255), noise.int(0, 255), noise.int(0, 255)]));
    const a = await pre.randomResizedCrop(image, new Rng(7));
    const b = await pre.randomResizedCrop(image, new Rng(7));
    const c = await pre.randomResizedCrop(image, new Rng(8));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    for (let seed = 0; seed < 50; seed++) {
      const box = randomResizedCropBox(32, 32, new Rng(seed));
      const area = (box.width * box.height) / (32 * 32);
      expect(area).toBeGreaterThan(0.85);
      expect(area).toBeLessThanOrEqual(1);
      expect(box.left + box.width).toBeLessThanOrEqual(32);
      expect(box.top + box.height).toBeLessThanOrEqual(32);
    }
    const many = await pre.preprocessMany([image, image], { rng: new Rng(3) });
    const again = await pre.preprocessMany([image, image], { rng: new Rng(3) });
    expect(Array.from(many[1])).toEqual(Array.from(again[1]));
    expect(tf.memory().numTensors).toBeGreaterThanOrEqual(0);
  });

  it('draws crop boxes with Python rounding and falls back to a ratio-clamped center crop', () => {
    expect([roundHalfEven(2.5), roundHalfEven(3.5), roundHalfEven(0.5), roundHalfEven(2.6)]).toEqual([2, 4, 0, 3]);
    // a 100×10 strip: no 0.9–1.0-area crop with ratio ≤ 4/3 fits, so torchvision's fallback applies
    expect(randomResizedCropBox(100, 10, new Rng(0))).toEqual({ left: 43, top: 0, width: 13, height: 10 });
    expect(randomResizedCropBox(10, 100, new Rng(0))).toEqual({ left: 0, top: 43, width: 10, height: 13 });
    expect(() => new ImagePreprocessor({ imageSize: 8, resample: 'nearest' as never })).toThrow(/resample/);
  });

  it('refuses images larger than limitInputPixels', async () => {
    const pre = new ImagePreprocessor({ imageSize: 16, limitInputPixels: 100 });
    await expect(pre.preprocess(await png(raw(20, 20, () => [0, 0, 0])))).rejects.toMatchObject({ code: 'E_DATA' });
  });
});

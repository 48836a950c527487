import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng, type RawImage } from '@llm2clip/core';
import { readSafetensors } from '@llm2clip/tensor';
import { nativeResizeCropU8 } from '@llm2clip/tensor/native-image';
import { describe, expect, it } from 'vitest';
import { cropRaw, resizeBicubicPil, resizeCropBicubicPil } from '../src/image-ops.js';

// written by scripts/make_preprocess_fixtures.py (Pillow 9.4 + PyTorch 1.13)
const FIXTURES = join(import.meta.dirname, 'fixtures', 'preprocess');

function randomImage(rng: Rng, width: number, height: number, channels: number): RawImage {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(0, 255);
  return { kind: 'raw', width, height, channels, data };
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

describe('crop + Pillow bicubic in one call (resizeCropBicubicPil)', () => {
  it('the addon provides the one-call kernel (CI builds it)', () => {
    expect(nativeResizeCropU8()).toBeTypeOf('function');
  });

  it('equals Pillow on the RandomResizedCrop fixture (torchvision on a PIL image), AVX2 and scalar kernels', async () => {
    const reference = (await readSafetensors(join(FIXTURES, 'reference.safetensors'))).tensors;
    const { data, info } = await sharp(await readFile(join(FIXTURES, 'gradient.png'))).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const image: RawImage = { kind: 'raw', width: info.width, height: info.height, channels: 3, data: new Uint8Array(data) };
    const [top, left, height, width] = reference.get('gradient.rrc_box')?.data as Int32Array;
    const expected = reference.get('gradient.rrc')?.data as Uint8Array;
    for (const options of [{}, { simd: false }, { implementation: 'js' as const }]) {
      const ours = resizeCropBicubicPil(image, { left, top, width, height }, 40, 40, options);
      expect(same(ours.data, expected), JSON.stringify(options)).toBe(true);
    }
  });

  it('gives the bytes of cropRaw + resizeBicubicPil on random images, boxes at every edge, 1, 3 and 4 channels', () => {
    const rng = new Rng(11);
    const cases: Array<[number, number, number, number, number]> = [
      // width, height, channels, out width, out height
      [512, 480, 3, 224, 224],
      [530, 470, 3, 224, 224],
      [97, 61, 3, 224, 141],
      [64, 64, 3, 64, 31],
      [64, 64, 3, 17, 64],
      [33, 47, 1, 5, 300],
      [120, 80, 4, 37, 211],
      [3, 2, 3, 7, 5],
      // a 400x downscale: > 257 taps per output pixel, where the split 16-bit sums wrap around
      [1200, 4, 3, 3, 4],
    ];
    for (const [w, h, c, ow, oh] of cases) {
      const image = randomImage(rng, w, h, c);
      const boxes = [
        { left: 0, top: 0, width: w, height: h },
        // touching the right and bottom edges: the last byte of the buffer is read
        { left: w - Math.max(1, w >> 1), top: h - Math.max(1, h >> 1), width: Math.max(1, w >> 1), height: Math.max(1, h >> 1) },
        { left: 0, top: h - 1, width: w, height: 1 },
      ];
      for (let k = 0; k < 3; k++) {
        const width = rng.int(1, w);
        const height = rng.int(1, h);
        boxes.push({ left: rng.int(0, w - width), top: rng.int(0, h - height), width, height });
      }
      for (const box of boxes) {
        const expected = resizeBicubicPil(cropRaw(image, box), ow, oh, { implementation: 'js' }).data;
        const label = `${w}x${h}x${c} box ${JSON.stringify(box)} -> ${ow}x${oh}`;
        expect(same(resizeCropBicubicPil(image, box, ow, oh, { implementation: 'native' }).data, expected), `simd ${label}`).toBe(true);
        expect(same(resizeCropBicubicPil(image, box, ow, oh, { implementation: 'native', simd: false }).data, expected), `scalar ${label}`).toBe(true);
        expect(same(resizeCropBicubicPil(image, box, ow, oh, { implementation: 'js' }).data, expected), `js ${label}`).toBe(true);
      }
    }
  });

  it('leaves the source untouched and returns an own buffer even when nothing is resized', () => {
    const image = randomImage(new Rng(3), 9, 7, 3);
    const before = Uint8Array.from(image.data);
    const out = resizeCropBicubicPil(image, { left: 2, top: 1, width: 5, height: 4 }, 5, 4);
    expect(same(out.data, cropRaw(image, { left: 2, top: 1, width: 5, height: 4 }).data)).toBe(true);
    expect(out.data.buffer).not.toBe(image.data.buffer);
    expect(same(image.data, before)).toBe(true);
  });

  it('refuses boxes outside the image and bad sizes with typed errors', () => {
    const image = randomImage(new Rng(1), 8, 6, 3);
    expect(() => resizeCropBicubicPil(image, { left: 4, top: 0, width: 5, height: 6 }, 4, 4)).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
    expect(() => resizeCropBicubicPil(image, { left: 0, top: 0, width: 8, height: 6 }, 0, 4)).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
    expect(() => resizeCropBicubicPil({ ...image, data: image.data.subarray(1) }, { left: 0, top: 0, width: 8, height: 6 }, 4, 4)).toThrow(expect.objectContaining({ code: 'E_DATA' }));
  });

  it('the native kernel checks the box and the taps itself', () => {
    const kernel = nativeResizeCropU8();
    if (kernel === undefined) throw new Error('native addon missing');
    const src = new Uint8Array(4 * 4 * 3);
    const out = new Uint8Array(2 * 2 * 3);
    const taps = Int32Array.of(0, 2);
    const count = Int32Array.of(2, 2);
    const weight = new Int32Array(4);
    expect(() => kernel(src, 4, 4, 3, 1, 0, 4, 4, 2, 2, taps, count, weight, 2, taps, count, weight, 2, out, 0)).toThrow(/does not fit/);
    expect(() => kernel(src, 4, 4, 3, 0, 0, 4, 4, 2, 2, Int32Array.of(0, 3), count, weight, 2, taps, count, weight, 2, out, 0)).toThrow(/outside the input/);
    expect(() => kernel(src, 4, 4, 3, 0, 0, 4, 4, 2, 2, taps, count, weight, 2, taps, count, weight, 2, new Uint8Array(5), 0)).toThrow(/lengths/);
  });
});

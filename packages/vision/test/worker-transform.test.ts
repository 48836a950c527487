import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { Llm2ClipError, Rng, type RawImage } from '@llm2clip/core';
import { ImagePreprocessor } from '../src/index.js';
import { centerCropBoxOf, cropRaw, randomResizedCropBox, resizeBicubicPil, shortestEdgeSize } from '../src/image-ops.js';
import clipWorkerTransform, { cropRngForSeed, normalizeToChw, trainCropBox, type ClipWorkerTransformInput, type ChwImage } from '../src/worker-transform.js';
import { useCpu } from './helpers.js';

beforeAll(useCpu);

/** A noisy RGB image (every pixel different, so any geometry slip changes the output). */
function noisy(width: number, height: number, seed: number): RawImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(0, 255);
  return { kind: 'raw', width, height, channels: 3, data };
}

async function pngBytes(image: RawImage): Promise<Uint8Array> {
  return new Uint8Array(await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer());
}

/** The input the data package's decode workers give, with a lossless decode of `image`. */
async function inputFor(image: RawImage, seed: number, options: unknown): Promise<ClipWorkerTransformInput> {
  const bytes = await pngBytes(image);
  return {
    bytes,
    format: 'png',
    key: 'sample-7',
    seed,
    options,
    sharp,
    decode: async () => {
      const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      return { kind: 'raw', width: info.width, height: info.height, channels: 3, data: new Uint8Array(data) };
    },
  };
}

describe('clipWorkerTransform', () => {
  const image = noisy(61, 47, 3);

  it('train mode: the same seed gives the same crop, another seed another', async () => {
    const options = { mode: 'train', size: 32 };
    const a = (await clipWorkerTransform(await inputFor(image, 1234, options))) as RawImage;
    const b = (await clipWorkerTransform(await inputFor(image, 1234, options))) as RawImage;
    const c = (await clipWorkerTransform(await inputFor(image, 99, options))) as RawImage;
    expect(a).toMatchObject({ kind: 'raw', width: 32, height: 32, channels: 3 });
    expect(a.data).toBeInstanceOf(Uint8Array);
    expect(a.data).toEqual(b.data);
    expect(trainCropBox(61, 47, 1234)).toEqual(trainCropBox(61, 47, 1234));
    expect(trainCropBox(61, 47, 1234)).not.toEqual(trainCropBox(61, 47, 99));
    expect(Buffer.from(a.data).equals(Buffer.from(c.data))).toBe(false);
  });

  it('train mode equals randomResizedCropBox + cropRaw + resizeBicubicPil composed by hand', async () => {
    const scale: [number, number] = [0.3, 0.6];
    const out = (await clipWorkerTransform(await inputFor(image, 42, { size: 24, scale }))) as RawImage;
    const box = randomResizedCropBox(61, 47, cropRngForSeed(42), { scale, ratio: [3 / 4, 4 / 3] });
    expect(box.width * box.height).toBeLessThanOrEqual(0.6 * 61 * 47 + 61 + 47);
    expect(trainCropBox(61, 47, 42, { scale })).toEqual(box);
    const expected = resizeBicubicPil(cropRaw(image, box), 24, 24);
    expect(out.data).toEqual(expected.data);
  });

  it('train mode with normalize equals ImagePreprocessor.cropAndResize + normalize', async () => {
    const out = (await clipWorkerTransform(await inputFor(image, 5, { size: 16, normalize: true }))) as ChwImage;
    const pre = new ImagePreprocessor({ imageSize: 16 });
    const box = trainCropBox(61, 47, 5);
    const expected = pre.normalize(await pre.cropAndResize(image, box));
    expect(out).toMatchObject({ kind: 'chw', width: 16, height: 16, channels: 3 });
    expect(out.data).toBeInstanceOf(Float32Array);
    expect(Array.from(out.data)).toEqual(Array.from(expected));
  });

  it('eval mode equals shortest-edge resize + center crop (ImagePreprocessor, hf and torchvision rounding)', async () => {
    for (const centerCrop of ['hf', 'torchvision'] as const) {
      const out = (await clipWorkerTransform(await inputFor(image, 0, { mode: 'eval', size: 20, centerCrop }))) as RawImage;
      const target = shortestEdgeSize(61, 47, 20);
      const resized = resizeBicubicPil(image, target.width, target.height);
      const byHand = cropRaw(resized, centerCropBoxOf(resized.width, resized.height, 20, centerCrop));
      expect(out.data).toEqual(byHand.data);
      const pre = new ImagePreprocessor({ imageSize: 20, centerCrop });
      expect(out.data).toEqual((await pre.resizeAndCrop(image)).data);
      const chw = (await clipWorkerTransform(await inputFor(image, 0, { mode: 'eval', size: 20, centerCrop, normalize: true }))) as ChwImage;
      expect(Array.from(chw.data)).toEqual(Array.from(await pre.preprocess(image)));
    }
  });

  it("resample 'sharp' equals ImagePreprocessor with resample 'sharp' (train and eval)", async () => {
    const train = (await clipWorkerTransform(await inputFor(image, 8, { size: 20, resample: 'sharp' }))) as RawImage;
    const pre = new ImagePreprocessor({ imageSize: 20, resample: 'sharp' });
    expect(train).toMatchObject({ kind: 'raw', width: 20, height: 20, channels: 3 });
    expect(train.data).toEqual((await pre.cropAndResize(image, trainCropBox(61, 47, 8))).data);
    const pil = (await clipWorkerTransform(await inputFor(image, 8, { size: 20 }))) as RawImage;
    expect(Buffer.from(train.data).equals(Buffer.from(pil.data))).toBe(false);
    const evalOut = (await clipWorkerTransform(await inputFor(image, 8, { mode: 'eval', size: 20, resample: 'sharp' }))) as RawImage;
    expect(evalOut.data).toEqual((await pre.resizeAndCrop(image)).data);
  });

  it('eval mode does not depend on the seed', async () => {
    const a = (await clipWorkerTransform(await inputFor(image, 1, { mode: 'eval', size: 20 }))) as RawImage;
    const b = (await clipWorkerTransform(await inputFor(image, 2, { mode: 'eval', size: 20 }))) as RawImage;
    expect(a.data).toEqual(b.data);
  });

  it('normalizeToChw uses custom mean/std', () => {
    const tiny: RawImage = { kind: 'raw', width: 1, height: 1, channels: 3, data: Uint8Array.from([255, 0, 51]) };
    const out = normalizeToChw(tiny, [0.5, 0.5, 0.5], [0.5, 0.25, 0.1]);
    expect(out[0]).toBeCloseTo(1, 6);
    expect(out[1]).toBeCloseTo(-2, 6);
    expect(out[2]).toBeCloseTo((0.2 - 0.5) / 0.1, 5);
  });

  it('rejects bad options with E_CONFIG naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ mode: 'test' }, 'workerTransform.options.mode'],
      [{ size: 0 }, 'workerTransform.options.size'],
      [{ scale: [0.9, 0.1] }, 'workerTransform.options.scale'],
      [{ std: [1, 0, 1] }, 'workerTransform.options.std'],
      [{ sizes: 224 }, 'workerTransform.options.sizes'],
      [{ resample: 'lanczos' }, 'workerTransform.options.resample'],
      ['224', 'workerTransform.options'],
    ];
    for (const [options, field] of cases) {
      const error = await clipWorkerTransform(await inputFor(image, 0, options)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Llm2ClipError);
      expect(error).toMatchObject({ code: 'E_CONFIG', field });
    }
  });
});

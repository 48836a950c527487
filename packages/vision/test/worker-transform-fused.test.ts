import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { Rng, type RawImage } from '@llm2clip/core';
import clipWorkerTransform, { type ClipWorkerTransformInput } from '../src/worker-transform.js';
import { headerImageSize } from '../src/worker-transform-header.js';

/** A smooth image with grain (JPEG-friendly, every crop different). */
function photoLike(width: number, height: number, seed: number): RawImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / width + rng.int(-9, 9);
      data[i + 1] = (y * 255) / height + rng.int(-9, 9);
      data[i + 2] = ((x + y) * 127) / (width + height) + rng.int(-9, 9);
    }
  }
  return { kind: 'raw', width, height, channels: 3, data };
}

async function encode(image: RawImage, format: 'jpeg' | 'png' | 'webp' | 'tiff', grey = false): Promise<Uint8Array> {
  let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  if (grey) pipeline = pipeline.toColourspace('b-w');
  return new Uint8Array(await pipeline.toFormat(format, { quality: 90 }).toBuffer());
}

/** What the data package's decode workers hand over (the decode as `decodeImage` runs it). */
function inputFor(bytes: Uint8Array, seed: number, options: unknown, limitInputPixels?: number, decodes = { count: 0 }): ClipWorkerTransformInput {
  return {
    bytes,
    key: 'sample-3',
    seed,
    options,
    sharp,
    limitInputPixels,
    decode: async () => {
      decodes.count++;
      const { data, info } = await sharp(bytes, { limitInputPixels: limitInputPixels ?? 50_000_000 }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      return { kind: 'raw', width: info.width, height: info.height, channels: 3, data: new Uint8Array(data) };
    },
  };
}

describe("train mode with resample 'sharp': decode, crop and resize in one libvips pipeline", () => {
  const options = { mode: 'train', size: 56, resample: 'sharp', scale: [0.5, 1] };

  it.each([
    ['jpeg', false, true],
    ['png', false, true],
    ['webp', false, true],
    ['jpeg', true, true],
    ['tiff', false, false],
  ] as const)('%s (greyscale %s, fused %s): the same bytes as decoding first', async (format, grey, fusedPath) => {
    const bytes = await encode(photoLike(131, 97, 5), format, grey);
    for (const seed of [1, 2, 3]) {
      const decodes = { count: 0 };
      const fused = (await clipWorkerTransform(inputFor(bytes, seed, options, 50_000_000, decodes))) as RawImage;
      // the fused pipeline never calls decode; other formats fall back to it
      expect(decodes.count).toBe(fusedPath ? 0 : 1);
      const decodedFirst = (await clipWorkerTransform(inputFor(bytes, seed, options))) as RawImage;
      expect(fused).toMatchObject({ kind: 'raw', width: 56, height: 56, channels: 3 });
      expect(Buffer.from(fused.data).equals(Buffer.from(decodedFirst.data)), `${format} seed ${seed}`).toBe(true);
    }
  });

  it('honours the loader pixel limit and reports bad bytes as E_DATA with the key', async () => {
    const bytes = await encode(photoLike(64, 48, 1), 'jpeg');
    await expect(clipWorkerTransform(inputFor(bytes, 1, options, 64 * 48 - 1))).rejects.toMatchObject({ code: 'E_DATA', key: 'sample-3' });
    await expect(clipWorkerTransform(inputFor(bytes.subarray(0, 40), 1, options, 50_000_000))).rejects.toMatchObject({ code: 'E_DATA', key: 'sample-3' });
  });
});

describe('headerImageSize (JPEG/PNG size without decoding)', () => {
  it('agrees with sharp on baseline and progressive JPEG (with EXIF), greyscale JPEG and PNG', async () => {
    const image = photoLike(131, 97, 2);
    const raw = sharp(image.data, { raw: { width: 131, height: 97, channels: 3 } });
    const files: Array<[string, Buffer]> = [
      ['jpeg', await raw.clone().jpeg().toBuffer()],
      ['jpeg', await raw.clone().jpeg({ progressive: true }).withMetadata({ orientation: 6 }).toBuffer()],
      ['jpeg', await raw.clone().toColourspace('b-w').jpeg().toBuffer()],
      ['png', await raw.clone().png().toBuffer()],
    ];
    for (const [format, file] of files) {
      const meta = await sharp(file).metadata();
      expect(headerImageSize(new Uint8Array(file))).toEqual({ format, width: meta.width, height: meta.height });
    }
  });

  it('gives undefined for other formats, truncated headers and garbage', async () => {
    const image = photoLike(20, 10, 2);
    const webp = await sharp(image.data, { raw: { width: 20, height: 10, channels: 3 } }).webp().toBuffer();
    const jpeg = await sharp(image.data, { raw: { width: 20, height: 10, channels: 3 } }).jpeg().toBuffer();
    expect(headerImageSize(new Uint8Array(webp))).toBeUndefined();
    expect(headerImageSize(new Uint8Array(jpeg.subarray(0, 20)))).toBeUndefined();
    expect(headerImageSize(Uint8Array.of(0xff, 0xd8, 0x00, 0x00, 0x00))).toBeUndefined();
    expect(headerImageSize(new Uint8Array(3))).toBeUndefined();
  });
});

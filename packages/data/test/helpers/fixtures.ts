import sharp from 'sharp';
import type { Sample } from '@llm2clip/core';

/** A small real image file: a solid colour with a bright square so crops differ. */
export async function imageBytes(format: 'jpg' | 'png' | 'webp', seed: number, size = 24): Promise<Buffer> {
  const data = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = x >= (seed % 8) && x < (seed % 8) + 8 && y >= 4 && y < 12;
      data[(y * size + x) * 3] = inside ? 255 : (seed * 37) % 200;
      data[(y * size + x) * 3 + 1] = inside ? 255 : (seed * 91) % 200;
      data[(y * size + x) * 3 + 2] = inside ? 255 : (seed * 53) % 200;
    }
  }
  const image = sharp(data, { raw: { width: size, height: size, channels: 3 } });
  if (format === 'jpg') return image.jpeg({ quality: 90 }).toBuffer();
  if (format === 'webp') return image.webp({ lossless: true }).toBuffer();
  return image.png().toBuffer();
}

/** Collects an async iterable. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Keys of samples. */
export const keysOf = (samples: readonly Pick<Sample, 'key'>[]): string[] => samples.map((s) => s.key);

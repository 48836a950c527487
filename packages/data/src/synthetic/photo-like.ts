import sharp from 'sharp';
import type { Rng } from '@llm2clip/core';

/**
 * A photo-like JPEG of `width × height` (quality 90): smooth colour fields (a 16×16 field of random
 * colours, cubic-upscaled) plus grain, so that its size and decode cost resemble a real photo's
 * rather than a flat synthetic scene's. Deterministic for a given `rng` state. The decode and crop
 * benchmarks use it.
 */
export async function photoLikeJpeg(rng: Rng, width: number, height: number): Promise<Buffer> {
  const coarse = Buffer.alloc(16 * 16 * 3);
  for (let i = 0; i < coarse.length; i++) coarse[i] = rng.int(0, 255);
  const smooth = await sharp(coarse, { raw: { width: 16, height: 16, channels: 3 } }).resize(width, height, { kernel: 'cubic' }).raw().toBuffer();
  for (let i = 0; i < smooth.length; i++) smooth[i] = Math.max(0, Math.min(255, smooth[i] + rng.int(-14, 14)));
  return sharp(smooth, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

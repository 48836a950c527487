import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { photoLikeJpeg } from '../src/index.js';

describe('photoLikeJpeg', () => {
  it('writes a JPEG of the asked size, the same bytes for the same generator state', async () => {
    const a = await photoLikeJpeg(new Rng(5), 96, 64);
    const b = await photoLikeJpeg(new Rng(5), 96, 64);
    const c = await photoLikeJpeg(new Rng(6), 96, 64);
    expect([a[0], a[1]]).toEqual([0xff, 0xd8]);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
    const meta = await sharp(a).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['jpeg', 96, 64, 3]);
  });
});

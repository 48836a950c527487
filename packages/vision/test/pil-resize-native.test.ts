import { Rng } from '@llm2clip/core';
import { nativeResampleU8 } from '@llm2clip/tensor/native-image';
import { describe, expect, it } from 'vitest';
import { resizeBicubicPil } from '../src/image-ops.js';

function randomImage(rng: Rng, width: number, height: number, channels: number) {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(0, 255);
  return { kind: 'raw' as const, width, height, channels, data };
}

describe('Pillow resample: native addon pass vs the JavaScript port', () => {
  it('the addon provides the kernel (CI builds it)', () => {
    expect(nativeResampleU8()).toBeTypeOf('function');
  });

  it('gives identical bytes on random sizes, both directions, 1, 3 and 4 channels', () => {
    const rng = new Rng(7);
    const cases: Array<[number, number, number, number, number]> = [
      [490, 470, 224, 224, 3],
      [97, 61, 224, 141, 3],
      [33, 47, 5, 300, 3],
      [64, 64, 63, 65, 1],
      [120, 80, 37, 211, 4],
      [1, 9, 4, 3, 3],
    ];
    for (const [w, h, ow, oh, c] of cases) {
      const image = randomImage(rng, w, h, c);
      const js = resizeBicubicPil(image, ow, oh, { implementation: 'js' });
      const native = resizeBicubicPil(image, ow, oh, { implementation: 'native' });
      expect(native.width).toBe(ow);
      expect(native.height).toBe(oh);
      expect(Buffer.from(native.data).equals(Buffer.from(js.data)), `${w}x${h}x${c} -> ${ow}x${oh}`).toBe(true);
    }
  });

  it('the kernel refuses taps that read outside the input', () => {
    const kernel = nativeResampleU8();
    if (kernel === undefined) throw new Error('native addon missing');
    const src = new Uint8Array(4 * 2 * 3);
    const out = new Uint8Array(2 * 2 * 3);
    expect(() => kernel(src, 4, 2, 3, 2, 0, Int32Array.of(0, 3), Int32Array.of(2, 2), new Int32Array(4), 2, out)).toThrow(/outside the input/);
    expect(() => kernel(src, 4, 2, 3, 2, 0, Int32Array.of(0, 1), Int32Array.of(2, 2), new Int32Array(4), 2, new Uint8Array(3))).toThrow(/lengths/);
  });
});

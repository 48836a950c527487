import { Llm2ClipError, type RawImage } from '@llm2clip/core';
import { nativeResampleU8, type NativeResampleU8 } from '@llm2clip/tensor/native-image';
import { pilFixedTaps } from './bicubic.js';

/** Which implementation of the Pillow resample runs: the native addon's C++ pass (default when built) or the JS port. */
export type PilResizeImplementation = 'auto' | 'native' | 'js';

let nativeResample: NativeResampleU8 | undefined | null = null;
function native(): NativeResampleU8 | undefined {
  if (nativeResample === null) nativeResample = nativeResampleU8();
  return nativeResample;
}

// Pillow's Resample.c: 8-bit coefficients carry 32 − 8 − 2 fractional bits; sums are int32 as in C
// (positive taps sum to < 1.2 × 2^22, so 255 × that stays below 2^31).
const PRECISION_BITS = 22;
const HALF = 2 ** (PRECISION_BITS - 1);
const CLIP_HIGH = 2 ** (PRECISION_BITS + 8);

/** Pillow's `clip8`: the fixed-point sum back to a byte. */
function clip8(sum: number): number {
  if (sum >= CLIP_HIGH) return 255;
  if (sum <= 0) return 0;
  return sum >> PRECISION_BITS;
}

function resampleHorizontal(src: Uint8Array, width: number, height: number, channels: number, outWidth: number, kernel: NativeResampleU8 | undefined): Uint8Array {
  const { start, count, weight, ksize } = pilFixedTaps(width, outWidth);
  const out = new Uint8Array(outWidth * height * channels);
  if (kernel !== undefined) {
    kernel(src, width, height, channels, outWidth, 0, start, count, weight, ksize, out);
    return out;
  }
  if (channels === 3) {
    // the common case, unrolled: one pass over the taps for all three channels
    let o = 0;
    for (let y = 0; y < height; y++) {
      const rowIn = y * width * 3;
      for (let x = 0; x < outWidth; x++) {
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let p = rowIn + start[x] * 3;
        const k = x * ksize;
        const n = count[x];
        for (let j = 0; j < n; j++, p += 3) {
          const w = weight[k + j];
          s0 = (s0 + src[p] * w) | 0;
          s1 = (s1 + src[p + 1] * w) | 0;
          s2 = (s2 + src[p + 2] * w) | 0;
        }
        out[o++] = clip8(s0);
        out[o++] = clip8(s1);
        out[o++] = clip8(s2);
      }
    }
    return out;
  }
  for (let y = 0; y < height; y++) {
    const rowIn = y * width * channels;
    const rowOut = y * outWidth * channels;
    for (let x = 0; x < outWidth; x++) {
      const first = start[x];
      const k = x * ksize;
      const n = count[x];
      for (let c = 0; c < channels; c++) {
        let sum = HALF;
        for (let j = 0; j < n; j++) sum = (sum + src[rowIn + (first + j) * channels + c] * weight[k + j]) | 0;
        out[rowOut + x * channels + c] = clip8(sum);
      }
    }
  }
  return out;
}

function resampleVertical(src: Uint8Array, width: number, height: number, channels: number, outHeight: number, kernel: NativeResampleU8 | undefined): Uint8Array {
  const { start, count, weight, ksize } = pilFixedTaps(height, outHeight);
  const stride = width * channels;
  const out = new Uint8Array(stride * outHeight);
  if (kernel !== undefined) {
    kernel(src, width, height, channels, outHeight, 1, start, count, weight, ksize, out);
    return out;
  }
  // row-wise accumulation: each tap adds one whole input row, reading memory in order
  const acc = new Int32Array(stride);
  for (let y = 0; y < outHeight; y++) {
    acc.fill(HALF);
    const k = y * ksize;
    const n = count[y];
    const first = start[y];
    for (let j = 0; j < n; j++) {
      const w = weight[k + j];
      let p = (first + j) * stride;
      for (let i = 0; i < stride; i++) acc[i] = (acc[i] + src[p++] * w) | 0;
    }
    const o = y * stride;
    for (let i = 0; i < stride; i++) out[o + i] = clip8(acc[i]);
  }
  return out;
}

/**
 * Resizes 8-bit pixels with Pillow's bicubic filter bit for bit (`Image.resize(size,
 * Image.BICUBIC)`, Pillow's `ImagingResample`: separable, horizontal pass first, a = −0.5, the
 * kernel widened by the scale when downsampling (antialiasing), 22-bit fixed-point weights,
 * rounding and clamping per pass). This is the resize of Hugging Face's `CLIPImageProcessor` and
 * of torchvision's `Resize`/`RandomResizedCrop` on PIL images (open_clip, LLM2CLIP). libvips'
 * (sharp's) bicubic is a different kernel and would differ by several grey levels.
 *
 * The passes run in `@llm2clip/tensor`'s native addon when it is built (the same taps and integer
 * arithmetic in C++, several times faster), else in JavaScript; both are bit-identical.
 * `implementation` forces one ('native' throws `E_BACKEND` when the addon lacks the kernel).
 */
export function resizeBicubicPil(image: RawImage, width: number, height: number, options: { implementation?: PilResizeImplementation } = {}): RawImage {
  const { channels } = image;
  if (image.data.length !== image.width * image.height * channels) {
    throw new Llm2ClipError('E_DATA', `raw image ${image.width}x${image.height}x${channels} needs ${image.width * image.height * channels} bytes, got ${image.data.length}`, { field: 'image' });
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Llm2ClipError('E_CONFIG', `resize target must be positive integers, got ${width}x${height}`, { field: 'size' });
  }
  const implementation = options.implementation ?? 'auto';
  const kernel = implementation === 'js' ? undefined : native();
  if (implementation === 'native' && kernel === undefined) {
    throw new Llm2ClipError('E_BACKEND', 'the native Pillow resample is unavailable: @llm2clip/tensor\'s addon is not built (or LLM2CLIP_NATIVE_IMAGE=0)', { field: 'implementation' });
  }
  let data = image.data;
  if (width !== image.width) data = resampleHorizontal(data, image.width, image.height, channels, width, kernel);
  if (height !== image.height) data = resampleVertical(data, width, image.height, channels, height, kernel);
  if (data === image.data) data = Uint8Array.from(data);
  return { kind: 'raw', width, height, channels, data };
}

/** Copies the `box` region of an 8-bit image (Pillow's `Image.crop` inside the image). */
export function cropRaw(image: RawImage, box: { left: number; top: number; width: number; height: number }): RawImage {
  const { channels } = image;
  if (box.left < 0 || box.top < 0 || box.width <= 0 || box.height <= 0 || box.left + box.width > image.width || box.top + box.height > image.height) {
    throw new Llm2ClipError('E_SHAPE', `crop ${box.width}x${box.height}+${box.left}+${box.top} does not fit a ${image.width}x${image.height} image`, { field: 'crop' });
  }
  const out = new Uint8Array(box.width * box.height * channels);
  const rowBytes = box.width * channels;
  for (let y = 0; y < box.height; y++) {
    const from = ((box.top + y) * image.width + box.left) * channels;
    out.set(image.data.subarray(from, from + rowBytes), y * rowBytes);
  }
  return { kind: 'raw', width: box.width, height: box.height, channels, data: out };
}


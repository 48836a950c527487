import { Llm2ClipError, type RawImage } from '@llm2clip/core';
import { pilTaps } from './bicubic.js';

// Pillow's Resample.c: 8-bit coefficients carry 32 − 8 − 2 fractional bits
const PRECISION_BITS = 22;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);
const CLIP_HIGH = 2 ** (PRECISION_BITS + 8);

/** Pillow's fixed-point taps (`normalize_coeffs_8bpc`: round half away from zero). */
function fixedTaps(inSize: number, outSize: number): { start: Int32Array; count: Int32Array; weight: Int32Array; ksize: number } {
  const taps = pilTaps(inSize, outSize);
  const weight = new Int32Array(taps.weight.length);
  for (let i = 0; i < weight.length; i++) {
    const w = taps.weight[i] * ONE;
    weight[i] = w < 0 ? Math.trunc(-0.5 + w) : Math.trunc(0.5 + w);
  }
  return { start: taps.start, count: taps.count, weight, ksize: taps.ksize };
}

/** Pillow's `clip8`: the fixed-point sum back to a byte. */
function clip8(sum: number): number {
  if (sum >= CLIP_HIGH) return 255;
  if (sum <= 0) return 0;
  return Math.floor(sum / ONE);
}

function resampleHorizontal(src: Uint8Array, width: number, height: number, channels: number, outWidth: number): Uint8Array {
  const taps = fixedTaps(width, outWidth);
  const out = new Uint8Array(outWidth * height * channels);
  for (let y = 0; y < height; y++) {
    const rowIn = y * width * channels;
    const rowOut = y * outWidth * channels;
    for (let x = 0; x < outWidth; x++) {
      const first = taps.start[x];
      const k = x * taps.ksize;
      for (let c = 0; c < channels; c++) {
        let sum = HALF;
        for (let j = 0; j < taps.count[x]; j++) sum += src[rowIn + (first + j) * channels + c] * taps.weight[k + j];
        out[rowOut + x * channels + c] = clip8(sum);
      }
    }
  }
  return out;
}

function resampleVertical(src: Uint8Array, width: number, height: number, channels: number, outHeight: number): Uint8Array {
  const taps = fixedTaps(height, outHeight);
  const stride = width * channels;
  const out = new Uint8Array(stride * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const first = taps.start[y];
    const k = y * taps.ksize;
    for (let i = 0; i < stride; i++) {
      let sum = HALF;
      for (let j = 0; j < taps.count[y]; j++) sum += src[(first + j) * stride + i] * taps.weight[k + j];
      out[y * stride + i] = clip8(sum);
    }
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
 */
export function resizeBicubicPil(image: RawImage, width: number, height: number): RawImage {
  const { channels } = image;
  if (image.data.length !== image.width * image.height * channels) {
    throw new Llm2ClipError('E_DATA', `raw image ${image.width}x${image.height}x${channels} needs ${image.width * image.height * channels} bytes, got ${image.data.length}`, { field: 'image' });
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Llm2ClipError('E_CONFIG', `resize target must be positive integers, got ${width}x${height}`, { field: 'size' });
  }
  let data = image.data;
  if (width !== image.width) data = resampleHorizontal(data, image.width, image.height, channels, width);
  if (height !== image.height) data = resampleVertical(data, width, image.height, channels, height);
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


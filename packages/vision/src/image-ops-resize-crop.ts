import { Llm2ClipError, type RawImage } from '@llm2clip/core';
import { nativeResizeCropU8, type NativeResizeCropU8 } from '@llm2clip/tensor/native-image';
import { pilFixedTaps } from './bicubic.js';
import type { CropBox } from './image-geometry.js';
import { cropRaw, resizeBicubicPil, type PilResizeImplementation } from './pil-resize.js';

/** Options of {@link resizeCropBicubicPil}. */
export interface ResizeCropOptions {
  /** `'auto'` (default: the native addon when built, else JavaScript), `'native'` (throws `E_BACKEND` without it) or `'js'`. */
  implementation?: PilResizeImplementation;
  /** Native only: `false` forces the portable scalar kernels instead of AVX2 (same bytes; for tests). Default true. */
  simd?: boolean;
}

let kernel: NativeResizeCropU8 | undefined | null = null;
function native(): NativeResizeCropU8 | undefined {
  if (kernel === null) kernel = nativeResizeCropU8();
  return kernel;
}

/**
 * Pillow's `image.crop(box).resize((width, height), Image.BICUBIC)` bit for bit — torchvision's
 * `resized_crop` on a PIL image, i.e. the last step of `RandomResizedCrop` — without copying the
 * crop: the native addon reads the box in place (both passes in one call, AVX2 when the CPU has
 * it). The taps are those of the crop's own size, so the bytes equal
 * `resizeBicubicPil(cropRaw(image, box), width, height)` (not Pillow's `resize(…, box=…)`, which
 * places taps differently). Without the addon it runs exactly that, in JavaScript.
 */
export function resizeCropBicubicPil(image: RawImage, box: CropBox, width: number, height: number, options: ResizeCropOptions = {}): RawImage {
  const { channels } = image;
  if (image.data.length !== image.width * image.height * channels) {
    throw new Llm2ClipError('E_DATA', `raw image ${image.width}x${image.height}x${channels} needs ${image.width * image.height * channels} bytes, got ${image.data.length}`, { field: 'image' });
  }
  if (![box.left, box.top, box.width, box.height].every(Number.isInteger) || box.left < 0 || box.top < 0 || box.width <= 0 || box.height <= 0 || box.left + box.width > image.width || box.top + box.height > image.height) {
    throw new Llm2ClipError('E_SHAPE', `crop ${box.width}x${box.height}+${box.left}+${box.top} does not fit a ${image.width}x${image.height} image`, { field: 'crop' });
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Llm2ClipError('E_CONFIG', `resize target must be positive integers, got ${width}x${height}`, { field: 'size' });
  }
  const implementation = options.implementation ?? 'auto';
  const fn = implementation === 'js' ? undefined : native();
  if (implementation === 'native' && fn === undefined) {
    throw new Llm2ClipError('E_BACKEND', "the native crop + Pillow resample is unavailable: @llm2clip/tensor's addon is not built (or is a stale build, refused for its interface version), or LLM2CLIP_NATIVE_IMAGE=0", { field: 'implementation' });
  }
  if (fn === undefined) return resizeBicubicPil(cropRaw(image, box), width, height, { implementation });
  const x = pilFixedTaps(box.width, width);
  const y = pilFixedTaps(box.height, height);
  const out = new Uint8Array(width * height * channels);
  fn(image.data, image.width, image.height, channels, box.left, box.top, box.width, box.height, width, height, x.start, x.count, x.weight, x.ksize, y.start, y.count, y.weight, y.ksize, out, options.simd === false ? 1 : 0);
  return { kind: 'raw', width, height, channels, data: out };
}

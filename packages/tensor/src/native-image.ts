/**
 * Image kernels of the native addon for packages that preprocess images without tfjs (this entry,
 * `@llm2clip/tensor/native-image`, imports no tfjs). Used by `@llm2clip/vision`'s Pillow-exact
 * resize, which falls back to its JavaScript port when the addon is missing.
 *
 * @module
 */
import { loadNativeAddon } from './backend/native-addon.js';

/** One pass of Pillow's 8-bit resample, as the addon's `resampleU8` runs it (see native/kernels.h). */
export type NativeResampleU8 = (
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outSize: number,
  axis: 0 | 1,
  start: Int32Array,
  count: Int32Array,
  weight: Int32Array,
  ksize: number,
  out: Uint8Array,
) => void;

/**
 * The addon's Pillow resample pass, or `undefined` when the addon is not built, is an older build
 * without image kernels, or `LLM2CLIP_NATIVE_IMAGE=0` turns it off.
 */
export function nativeResampleU8(): NativeResampleU8 | undefined {
  if (process.env.LLM2CLIP_NATIVE_IMAGE === '0') return undefined;
  const addon = loadNativeAddon();
  const fn = addon?.resampleU8;
  return fn === undefined ? undefined : fn.bind(addon);
}

/**
 * Pillow's `im.crop(box).resize((outWidth, outHeight), Image.BICUBIC)` on 8-bit pixels in one call
 * (the addon's 20-argument `resampleU8`): both passes read the crop box in place (no copy of the
 * crop), the intermediate image lives in a per-thread buffer reused between calls, and the
 * kernels use AVX2 when the CPU has it (same bytes as the scalar kernels). Taps per axis are those
 * of {@link NativeResampleU8} for the crop's size; a pass whose size does not change is skipped, as
 * Pillow skips it. `flags` bit 0 forces the portable scalar kernels (for tests).
 */
export type NativeResizeCropU8 = (
  src: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  channels: number,
  left: number,
  top: number,
  cropWidth: number,
  cropHeight: number,
  outWidth: number,
  outHeight: number,
  xStart: Int32Array,
  xCount: Int32Array,
  xWeight: Int32Array,
  xKsize: number,
  yStart: Int32Array,
  yCount: Int32Array,
  yWeight: Int32Array,
  yKsize: number,
  out: Uint8Array,
  flags: number,
) => void;

let resizeCropProbe: NativeResizeCropU8 | undefined | null = null;

/**
 * The addon's one-call crop + Pillow resize ({@link NativeResizeCropU8}), or `undefined` when the
 * addon is not built, is an older build without it, or `LLM2CLIP_NATIVE_IMAGE=0` turns it off.
 */
export function nativeResizeCropU8(): NativeResizeCropU8 | undefined {
  if (process.env.LLM2CLIP_NATIVE_IMAGE === '0') return undefined;
  if (resizeCropProbe !== null) return resizeCropProbe;
  const one = nativeResampleU8() as unknown as NativeResizeCropU8 | undefined;
  resizeCropProbe = undefined;
  if (one !== undefined) {
    // older builds know only the 11-argument form and throw on this call
    try {
      const taps = Int32Array.of(0);
      one(new Uint8Array(3), 1, 1, 3, 0, 0, 1, 1, 1, 1, taps, Int32Array.of(1), Int32Array.of(1 << 22), 1, taps, Int32Array.of(1), Int32Array.of(1 << 22), 1, new Uint8Array(3), 0);
      resizeCropProbe = one;
    } catch {
      resizeCropProbe = undefined;
    }
  }
  return resizeCropProbe;
}

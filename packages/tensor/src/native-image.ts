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

/**
 * Image kernels of the native addon for packages that preprocess images without tfjs (this entry,
 * `@llm2clip/tensor/native-image`, imports no tfjs). Used by `@llm2clip/vision`'s Pillow-exact
 * resize, which falls back to its JavaScript port when the addon is missing.
 *
 * @module
 */
import { loadNativeAddon, type NativeResampleU8, type NativeResizeCropU8 } from './backend/native-addon.js';

export type { NativeResampleU8, NativeResizeCropU8 } from './backend/native-addon.js';

/**
 * The addon's Pillow resample pass, or `undefined` when the addon is not built or
 * `LLM2CLIP_NATIVE_IMAGE=0` turns it off.
 */
export function nativeResampleU8(): NativeResampleU8 | undefined {
  if (process.env.LLM2CLIP_NATIVE_IMAGE === '0') return undefined;
  const addon = loadNativeAddon();
  return addon?.resampleU8.bind(addon);
}

/**
 * The addon's one-call crop + Pillow resize ({@link NativeResizeCropU8}), or `undefined` when the
 * addon is not built or `LLM2CLIP_NATIVE_IMAGE=0` turns it off.
 */
export function nativeResizeCropU8(): NativeResizeCropU8 | undefined {
  if (process.env.LLM2CLIP_NATIVE_IMAGE === '0') return undefined;
  const addon = loadNativeAddon();
  return addon?.resizeCropU8.bind(addon);
}

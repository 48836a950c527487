import type { Rng } from '@llm2clip/core';

/** A crop rectangle in pixels. */
export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** How center-crop offsets are rounded (see {@link centerCropBoxOf}). */
export type CenterCropRounding = 'hf' | 'torchvision';

/** Options of the random resized crop (`ImagePreprocessor.randomResizedCrop`), torchvision's `RandomResizedCrop`. */
export interface RandomResizedCropOptions {
  /** Range of the crop's area as a fraction of the image. Default `[0.9, 1.0]`. */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio (width/height). Default `[3/4, 4/3]`. */
  ratio?: readonly [number, number];
}

/** Python's `round()` (half to even), which torchvision's crop arithmetic uses. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * The crop box torchvision's `RandomResizedCrop.get_params` draws (10 tries at a random area and
 * log-uniform aspect ratio, sides rounded half-to-even as Python's `round`, then a center-crop
 * fallback clamped to the ratio range), drawing from `rng` instead of torch's generator.
 */
export function randomResizedCropBox(width: number, height: number, rng: Rng, options: RandomResizedCropOptions = {}): CropBox {
  const [minScale, maxScale] = options.scale ?? [0.9, 1.0];
  const [minRatio, maxRatio] = options.ratio ?? [3 / 4, 4 / 3];
  const area = width * height;
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(minScale, maxScale);
    const aspect = Math.exp(rng.uniform(Math.log(minRatio), Math.log(maxRatio)));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return { top: rng.int(0, height - h), left: rng.int(0, width - w), width: w, height: h };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < Math.min(minRatio, maxRatio)) h = roundHalfEven(w / Math.min(minRatio, maxRatio));
  else if (inRatio > Math.max(minRatio, maxRatio)) w = roundHalfEven(h * Math.max(minRatio, maxRatio));
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), width: w, height: h };
}

/** Size after resizing the shorter side to `size` (the longer side scaled and truncated, as `int()` in transformers and torchvision). */
export function shortestEdgeSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.max(size, Math.floor((size * height) / width)) };
  return { width: Math.max(size, Math.floor((size * width) / height)), height: size };
}

/**
 * The centered `size²` box inside a `width × height` image: offsets floored as Hugging Face's
 * `center_crop` (`'hf'`, default) or rounded half-to-even as torchvision's `CenterCrop`
 * (`'torchvision'`, open_clip's eval transform). They differ by one pixel when the margin is odd.
 */
export function centerCropBoxOf(width: number, height: number, size: number, rounding: CenterCropRounding = 'hf'): CropBox {
  const offset = (margin: number): number => (rounding === 'hf' ? Math.floor(margin / 2) : roundHalfEven(margin / 2));
  return { left: offset(width - size), top: offset(height - size), width: size, height: size };
}


/**
 * `@llm2clip/vision/worker-transform`: CLIP's image transforms as a worker-side transform for the
 * decode workers of `@llm2clip/data` (`DataLoader`/`DecodePool` option `workerTransform: { module,
 * options }`), without TensorFlow.js. The worker decodes the image (the loader's `decode`, sharp
 * with its pixel limits) and then runs the same Pillow-exact pieces as `ImagePreprocessor`:
 *
 * - `mode: 'train'` (default): torchvision's `RandomResizedCrop` (area `scale` 0.9–1.0, aspect
 *   `ratio` 3/4–4/3 — open_clip's CLIP training transform), the box drawn from the sample's seed,
 *   then Pillow's bicubic to `size²`. The same sample seed always gives the same crop.
 * - `mode: 'eval'`: `CLIPImageProcessor`'s shortest-edge resize to `size` (Pillow bicubic) and a
 *   center crop of `size²` (`centerCrop: 'hf'`, or `'torchvision'` as open_clip's eval transform).
 *
 * `resample: 'sharp'` swaps Pillow's bicubic for libvips' (as `ImagePreprocessor`'s option of that
 * name): one or two grey levels off Pillow, and no faster than the Pillow-exact path (whose
 * crop + resize runs in `@llm2clip/tensor`'s native addon, AVX2 when the CPU has it). In train mode
 * it decodes, crops and resizes in one libvips pipeline (the same bytes as decoding first).
 *
 * The result is 8-bit RGB (`{ kind: 'raw', width, height, channels: 3, data: Uint8Array }`, HWC)
 * — a quarter of the bytes to send back, normalisation left to the model side
 * (`ImagePreprocessor.normalize`) — or, with `normalize: true`, the normalised float32 CHW planes
 * (`{ kind: 'chw', …, data: Float32Array }`, `(x/255 − mean)/std` as transformers computes it).
 * The `@llm2clip/data` package is not imported: the input type is declared here and matches its
 * `WorkerTransformInput` structurally.
 *
 * @example
 * ```ts
 * import { DataLoader, WebDatasetSource } from '@llm2clip/data';
 * const loader = new DataLoader(new WebDatasetSource('shard-{0000..0009}.tar'), {
 *   batchSize: 32, seed: 1, workers: 2,
 *   workerTransform: { module: import.meta.resolve('@llm2clip/vision/worker-transform'), options: { mode: 'train', size: 224 } },
 * });
 * ```
 *
 * @packageDocumentation
 */
import { Llm2ClipError, Rng, type RawImage } from '@llm2clip/core';
import type SharpFn from 'sharp';
import { centerCropBoxOf, randomResizedCropBox, shortestEdgeSize, type CenterCropRounding, type CropBox } from './image-geometry.js';
import { resizeCropBicubicPil } from './image-ops-resize-crop.js';
import { headerImageSize } from './worker-transform-header.js';
import { cropRaw } from './pil-resize.js';

/** OpenAI CLIP's per-channel mean (the same values as the main entry's `OPENAI_CLIP_MEAN`). */
const CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
/** OpenAI CLIP's per-channel std (the same values as the main entry's `OPENAI_CLIP_STD`). */
const CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** Fork label of the crop stream: the sample seed's own `Rng` is left to caption selection. */
const CROP_STREAM = 0x63726f70;

/** What the transform gets for one image (structurally `WorkerTransformInput` of `@llm2clip/data`). */
export interface ClipWorkerTransformInput {
  /** The encoded image bytes. */
  bytes: Uint8Array;
  /** File extension, when known. */
  format?: string;
  /** Sample key (named in errors). */
  key: string;
  /** The sample's own seed: the crop box is drawn from it. */
  seed: number;
  /** Plain-JSON {@link ClipWorkerTransformOptions}. */
  options: unknown;
  /** Decodes `bytes` to RGB with the loader's limits. */
  decode: () => Promise<RawImage>;
  /** The sharp library (used by `resample: 'sharp'`; imported here when absent). */
  sharp?: unknown;
  /**
   * The loader's pixel limit. When given (with `sharp`), train mode with `resample: 'sharp'` decodes,
   * crops and resizes JPEG/PNG/WebP in one libvips pipeline instead of calling `decode`.
   */
  limitInputPixels?: number;
}

/** Options of {@link clipWorkerTransform} (plain JSON, given as the worker transform's `options`). */
export interface ClipWorkerTransformOptions {
  /** `'train'` (RandomResizedCrop, default) or `'eval'` (shortest-edge resize + center crop). */
  mode?: 'train' | 'eval';
  /** Output side in pixels. Default 224. */
  size?: number;
  /** Train: range of the crop's area as a fraction of the image. Default `[0.9, 1.0]`. */
  scale?: [number, number];
  /** Train: range of the crop's aspect ratio (width/height). Default `[3/4, 4/3]`. */
  ratio?: [number, number];
  /**
   * `'pil'` (default): Pillow's bicubic bit for bit, as the reference pipelines. `'sharp'`: libvips'
   * bicubic (the `resample: 'sharp'` of `ImagePreprocessor`) — a different kernel (outputs differ
   * by a few grey levels), and no faster here: the Pillow-exact crop + resize runs in the native
   * addon (AVX2 when available), while decoding dominates either way.
   */
  resample?: 'pil' | 'sharp';
  /** Eval: center-crop offset rounding (`'hf'` default, `'torchvision'` for open_clip). */
  centerCrop?: CenterCropRounding;
  /** Return normalised float32 CHW instead of 8-bit RGB. Default false. */
  normalize?: boolean;
  /** Per-channel mean for `normalize`. Default OpenAI CLIP's. */
  mean?: [number, number, number];
  /** Per-channel std for `normalize`. Default OpenAI CLIP's. */
  std?: [number, number, number];
}

/** The options with their defaults filled in. */
export interface ResolvedClipWorkerTransformOptions {
  mode: 'train' | 'eval';
  size: number;
  scale: readonly [number, number];
  ratio: readonly [number, number];
  resample: 'pil' | 'sharp';
  centerCrop: CenterCropRounding;
  normalize: boolean;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** Normalised float32 CHW planes of a `size²` image (`normalize: true`). */
export interface ChwImage {
  kind: 'chw';
  width: number;
  height: number;
  channels: 3;
  data: Float32Array;
}

function pairOf(value: unknown, field: string, fallback: readonly [number, number]): readonly [number, number] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0) || value[0] > value[1]) {
    throw new Llm2ClipError('E_CONFIG', `${field} must be [min, max] with 0 < min <= max, got ${JSON.stringify(value)}`, { field: `workerTransform.options.${field}` });
  }
  return [value[0] as number, value[1] as number];
}

function tripleOf(value: unknown, field: string, fallback: readonly [number, number, number], positive: boolean): readonly [number, number, number] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0))) {
    throw new Llm2ClipError('E_CONFIG', `${field} must be 3 finite numbers${positive ? ', all positive' : ''}, got ${JSON.stringify(value)}`, { field: `workerTransform.options.${field}` });
  }
  return [value[0] as number, value[1] as number, value[2] as number];
}

/** Checks the transform's plain-JSON options and fills in defaults; bad values throw `E_CONFIG` naming the field. */
export function resolveClipWorkerTransformOptions(options: unknown): ResolvedClipWorkerTransformOptions {
  if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
    throw new Llm2ClipError('E_CONFIG', `worker transform options must be an object, got ${JSON.stringify(options)}`, { field: 'workerTransform.options' });
  }
  const o = (options ?? {}) as Record<string, unknown>;
  const known = new Set(['mode', 'size', 'scale', 'ratio', 'resample', 'centerCrop', 'normalize', 'mean', 'std']);
  for (const name of Object.keys(o)) {
    if (!known.has(name)) throw new Llm2ClipError('E_CONFIG', `unknown worker transform option "${name}"`, { field: `workerTransform.options.${name}` });
  }
  const mode = o.mode ?? 'train';
  if (mode !== 'train' && mode !== 'eval') throw new Llm2ClipError('E_CONFIG', `mode must be 'train' or 'eval', got ${JSON.stringify(mode)}`, { field: 'workerTransform.options.mode' });
  const size = o.size ?? 224;
  if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0) throw new Llm2ClipError('E_CONFIG', `size must be a positive integer, got ${JSON.stringify(size)}`, { field: 'workerTransform.options.size' });
  const centerCrop = o.centerCrop ?? 'hf';
  if (centerCrop !== 'hf' && centerCrop !== 'torchvision') {
    throw new Llm2ClipError('E_CONFIG', `centerCrop must be 'hf' or 'torchvision', got ${JSON.stringify(centerCrop)}`, { field: 'workerTransform.options.centerCrop' });
  }
  const resample = o.resample ?? 'pil';
  if (resample !== 'pil' && resample !== 'sharp') throw new Llm2ClipError('E_CONFIG', `resample must be 'pil' or 'sharp', got ${JSON.stringify(resample)}`, { field: 'workerTransform.options.resample' });
  const normalize = o.normalize ?? false;
  if (typeof normalize !== 'boolean') throw new Llm2ClipError('E_CONFIG', `normalize must be a boolean, got ${JSON.stringify(normalize)}`, { field: 'workerTransform.options.normalize' });
  return {
    mode,
    size,
    scale: pairOf(o.scale, 'scale', [0.9, 1.0]),
    ratio: pairOf(o.ratio, 'ratio', [3 / 4, 4 / 3]),
    resample,
    centerCrop,
    normalize,
    mean: tripleOf(o.mean, 'mean', CLIP_MEAN, false),
    std: tripleOf(o.std, 'std', CLIP_STD, true),
  };
}

/**
 * The generator the train crop of a sample is drawn from: `new Rng(seed).fork(…)`, a stream apart
 * from the `new Rng(seed)` that `@llm2clip/data` uses for caption selection.
 */
export function cropRngForSeed(seed: number): Rng {
  return new Rng(seed).fork(CROP_STREAM);
}

/**
 * The RandomResizedCrop box the train mode uses for a `width × height` image and sample `seed`
 * (to reproduce or log it on the main thread, or to give another implementation the same boxes).
 */
export function trainCropBox(width: number, height: number, seed: number, options: unknown = {}): CropBox {
  const resolved = resolveClipWorkerTransformOptions(options);
  return randomResizedCropBox(width, height, cropRngForSeed(seed), { scale: resolved.scale, ratio: resolved.ratio });
}

/** `(x/255 − mean)/std` per channel in float32, HWC bytes → CHW planes (the arithmetic of `ImagePreprocessor.normalize`). */
export function normalizeToChw(image: RawImage, mean: readonly number[] = CLIP_MEAN, std: readonly number[] = CLIP_STD): Float32Array {
  if (image.channels < 3 || image.data.length !== image.width * image.height * image.channels) {
    throw new Llm2ClipError('E_SHAPE', `expected an RGB image of ${image.width}x${image.height}, got ${image.data.length} bytes with ${image.channels} channels`, { field: 'image' });
  }
  const plane = image.width * image.height;
  const out = new Float32Array(3 * plane);
  const stride = image.channels;
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(mean[c]);
    const s = Math.fround(std[c]);
    const offset = c * plane;
    for (let i = 0; i < plane; i++) out[offset + i] = (Math.fround(image.data[i * stride + c] / 255) - m) / s;
  }
  return out;
}

/** libvips' bicubic on raw RGB, exactly as `ImagePreprocessor` with `resample: 'sharp'` runs it. */
async function resizeSharp(sharp: typeof SharpFn, image: RawImage, width: number, height: number): Promise<RawImage> {
  const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels as 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'cubic' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { kind: 'raw', width: info.width, height: info.height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * The geometry of one mode on decoded RGB pixels (no normalisation). `sharp` is needed only for
 * `resample: 'sharp'` (imported when not given).
 */
export async function applyClipGeometry(image: RawImage, seed: number, options: ResolvedClipWorkerTransformOptions, sharp?: unknown): Promise<RawImage> {
  const { size } = options;
  const resize = async (input: RawImage, width: number, height: number): Promise<RawImage> => {
    // Pillow's resize of the whole image: the crop-free kernel with the full box (same bytes as resizeBicubicPil)
    if (options.resample === 'pil') return resizeCropBicubicPil(input, { left: 0, top: 0, width: input.width, height: input.height }, width, height);
    if (width === input.width && height === input.height) return input; // as ImagePreprocessor's resizeRaw
    const lib = (sharp ?? (await import('sharp')).default) as typeof SharpFn;
    return resizeSharp(lib, input, width, height);
  };
  if (options.mode === 'train') {
    const box = randomResizedCropBox(image.width, image.height, cropRngForSeed(seed), { scale: options.scale, ratio: options.ratio });
    // Pillow's crop then resize, reading the box in place (no copy of the crop)
    if (options.resample === 'pil') return resizeCropBicubicPil(image, box, size, size);
    return resize(cropRaw(image, box), size, size);
  }
  const target = shortestEdgeSize(image.width, image.height, size);
  const resized = target.width === image.width && target.height === image.height ? image : await resize(image, target.width, target.height);
  if (resized.width === size && resized.height === size) return resized;
  return cropRaw(resized, centerCropBoxOf(resized.width, resized.height, size, options.centerCrop));
}

/** Formats whose header size is the decoded size (sharp decodes page 0, no density or orientation applied). */
const FUSED_FORMATS = new Set(['jpeg', 'png', 'webp']);

/**
 * Train mode with `resample: 'sharp'` in one libvips pipeline: the header gives the size (read in
 * JavaScript for JPEG/PNG, by sharp for WebP), the box is drawn as on decoded pixels, then decode → extract → libvips bicubic → 8-bit sRGB. Equal bytes to
 * decoding first and resizing the crop (shrink-on-load is off, so the crop is taken at full size);
 * `undefined` for other formats (the caller decodes).
 */
async function trainCropSharpFused(input: ClipWorkerTransformInput & { limitInputPixels: number }, sharp: typeof SharpFn, options: ResolvedClipWorkerTransformOptions): Promise<RawImage | undefined> {
  try {
    // JPEG/PNG size from the header bytes (no libvips call), else sharp's header read
    let size: { width: number; height: number } | undefined = headerImageSize(input.bytes);
    if (size === undefined) {
      const meta = await sharp(input.bytes, { limitInputPixels: input.limitInputPixels }).metadata();
      if (meta.format === undefined || !FUSED_FORMATS.has(meta.format) || meta.width === undefined || meta.height === undefined || (meta.pages ?? 1) > 1) return undefined;
      size = { width: meta.width, height: meta.height };
    }
    const box = randomResizedCropBox(size.width, size.height, cropRngForSeed(input.seed), { scale: options.scale, ratio: options.ratio });
    const { data, info } = await sharp(input.bytes, { limitInputPixels: input.limitInputPixels })
      .extract(box)
      .resize(options.size, options.size, { fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Llm2ClipError('E_DATA', `decoded image has ${info.channels} channels, expected 3`, { field: 'image', key: input.key });
    return { kind: 'raw', width: info.width, height: info.height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (cause) {
    if (cause instanceof Llm2ClipError) throw cause;
    throw new Llm2ClipError('E_DATA', `cannot decode ${input.format ?? 'image'} bytes: ${(cause as Error).message}`, { key: input.key, cause });
  }
}

/**
 * The CLIP worker transform (default export): decode, then the train or eval geometry of
 * {@link ClipWorkerTransformOptions}; 8-bit RGB out, or normalised CHW with `normalize: true`.
 * Bad options throw `E_CONFIG` naming the option; an undecodable image fails in `decode` (`E_DATA`, with the key),
 * which the loader skips and counts.
 */
export async function clipWorkerTransform(input: ClipWorkerTransformInput): Promise<RawImage | ChwImage> {
  const options = resolveClipWorkerTransformOptions(input.options);
  let image: RawImage | undefined;
  if (options.mode === 'train' && options.resample === 'sharp' && input.sharp !== undefined && input.limitInputPixels !== undefined) {
    image = await trainCropSharpFused(input as ClipWorkerTransformInput & { limitInputPixels: number }, input.sharp as typeof SharpFn, options);
  }
  if (image === undefined) {
    const decoded = await input.decode();
    if (decoded.channels !== 3) throw new Llm2ClipError('E_DATA', `decoded image has ${decoded.channels} channels, expected 3`, { field: 'image', key: input.key });
    image = await applyClipGeometry(decoded, input.seed, options, input.sharp);
  }
  if (!options.normalize) return image;
  return { kind: 'chw', width: image.width, height: image.height, channels: 3, data: normalizeToChw(image, options.mean, options.std) };
}

export default clipWorkerTransform;

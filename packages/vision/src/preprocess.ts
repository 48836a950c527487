import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import type { Sharp, OutputInfo } from 'sharp';
import { Llm2ClipError, type ImageRef, type RawImage, type Rng } from '@llm2clip/core';
import { resizeCropBicubicPil } from './image-ops-resize-crop.js';
import { cropRaw, resizeBicubicPil } from './pil-resize.js';
import { centerCropBoxOf, randomResizedCropBox, shortestEdgeSize, type CenterCropRounding, type CropBox, type RandomResizedCropOptions } from './image-geometry.js';

export { centerCropBoxOf, randomResizedCropBox, roundHalfEven, shortestEdgeSize, type CenterCropRounding, type CropBox, type RandomResizedCropOptions } from './image-geometry.js';

/** Per-channel RGB mean of OpenAI CLIP's preprocessing. */
export const OPENAI_CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
/** Per-channel RGB standard deviation of OpenAI CLIP's preprocessing. */
export const OPENAI_CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** Options of {@link ImagePreprocessor}. */
export interface ImagePreprocessorOptions {
  /** Side of the square model input, e.g. 224 (or 64 for the synthetic demo). */
  imageSize: number;
  /** Per-channel mean subtracted after rescaling to [0, 1]. Default {@link OPENAI_CLIP_MEAN}. */
  mean?: readonly number[];
  /** Per-channel divisor after the mean. Default {@link OPENAI_CLIP_STD}. */
  std?: readonly number[];
  /** Resize policy; `shortest-edge` (CLIP's): shorter side to `imageSize`, then center crop. */
  resize?: 'shortest-edge';
  /** Largest decoded image accepted, in pixels (sharp's `limitInputPixels`). Default 64 Mpx. */
  limitInputPixels?: number;
  /** Images decoded at once by the batch helpers. Default 4. */
  concurrency?: number;
  /**
   * Resampling: `'pil'` (default) is Pillow's bicubic ported bit-exactly ({@link resizeBicubicPil}),
   * what transformers 4's `CLIPImageProcessor` and torchvision on PIL images (open_clip, LLM2CLIP)
   * compute (transformers 5's torchvision-backed `CLIPImageProcessor` was measured one to two
   * grey levels from it); `'sharp'` uses libvips' cubic kernel (faster, but several grey levels away
   * from the Python stack).
   */
  resample?: Resample;
  /** Center-crop offsets: `'hf'` floors (CLIPImageProcessor, default), `'torchvision'` rounds (open_clip eval). */
  centerCrop?: CenterCropRounding;
}

/** How {@link ImagePreprocessor} resamples. */
export type Resample = 'pil' | 'sharp';
/**
 * CLIP image preprocessing: decode an {@link ImageRef} with sharp (encoded bytes; raw pixels are
 * used as they are), resize the shorter side to `imageSize` with Pillow's bicubic (ported
 * bit-exactly, see {@link resizeBicubicPil}), center-crop to `imageSize²` (Hugging Face's
 * `CLIPImageProcessor` geometry, or torchvision's with `centerCrop: 'torchvision'`), rescale by
 * 1/255 and normalise per channel. Output is a `Float32Array` in CHW order; the batch helpers
 * stack them into a `[batch, 3, size, size]` tensor. Training augmentation is torchvision's
 * `RandomResizedCrop` (bicubic) with a seeded `Rng`.
 *
 * @example
 * ```ts
 * const pre = ImagePreprocessor.fromPreprocessorConfig(json); // or new ImagePreprocessor({ imageSize: 224 })
 * const pixels = await pre.preprocessBatch(samples.map((s) => s.image)); // tf.Tensor4D, caller disposes
 * ```
 */
export class ImagePreprocessor {
  /** Side of the square output. */
  readonly imageSize: number;
  /** Per-channel mean. */
  readonly mean: readonly number[];
  /** Per-channel standard deviation. */
  readonly std: readonly number[];
  /** Resize policy. */
  readonly resize: 'shortest-edge';
  /** Resampling implementation. */
  readonly resample: Resample;
  /** Center-crop rounding. */
  readonly centerCrop: CenterCropRounding;
  private readonly limitInputPixels: number;
  private readonly concurrency: number;

  constructor(options: ImagePreprocessorOptions) {
    const { imageSize, mean = OPENAI_CLIP_MEAN, std = OPENAI_CLIP_STD, resize = 'shortest-edge' } = options;
    if (!Number.isInteger(imageSize) || imageSize <= 0) throw new Llm2ClipError('E_CONFIG', `imageSize must be a positive integer, got ${imageSize}`, { field: 'imageSize' });
    if (mean.length !== 3 || std.length !== 3 || std.some((s) => s <= 0)) {
      throw new Llm2ClipError('E_CONFIG', 'mean and std need 3 values each, std positive', { field: 'mean/std' });
    }
    this.imageSize = imageSize;
    this.mean = [...mean];
    this.std = [...std];
    this.resize = resize;
    this.resample = options.resample ?? 'pil';
    this.centerCrop = options.centerCrop ?? 'hf';
    if (this.resample !== 'pil' && this.resample !== 'sharp') throw new Llm2ClipError('E_CONFIG', `resample must be 'pil' or 'sharp', got ${String(this.resample)}`, { field: 'resample' });
    if (this.centerCrop !== 'hf' && this.centerCrop !== 'torchvision') throw new Llm2ClipError('E_CONFIG', `centerCrop must be 'hf' or 'torchvision', got ${String(this.centerCrop)}`, { field: 'centerCrop' });
    this.limitInputPixels = options.limitInputPixels ?? 64 * 1024 * 1024;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
  }

  /**
   * A preprocessor from a Hugging Face `preprocessor_config.json` (`CLIPImageProcessor`: `size`
   * `{shortest_edge}` or a number, `crop_size`, `image_mean`, `image_std`, `resample` 3 = bicubic).
   * Only the bicubic shortest-edge + square center-crop pipeline is supported; anything else is an
   * `E_CONFIG` naming the field.
   */
  static fromPreprocessorConfig(json: unknown, options: Omit<ImagePreprocessorOptions, 'imageSize' | 'mean' | 'std'> = {}, path?: string): ImagePreprocessor {
    const config = (json ?? {}) as Record<string, unknown>;
    const size = config.size;
    const shortest = typeof size === 'number' ? size : (size as { shortest_edge?: unknown } | undefined)?.shortest_edge;
    if (typeof shortest !== 'number') throw new Llm2ClipError('E_CONFIG', 'preprocessor_config.json needs size.shortest_edge', { path, field: 'size' });
    const crop = config.crop_size;
    const cropSide = typeof crop === 'number' ? crop : crop === undefined ? shortest : (crop as { height?: number; width?: number }).height;
    const cropWidth = typeof crop === 'object' && crop !== null ? (crop as { width?: number }).width : cropSide;
    if (cropSide !== shortest || cropWidth !== shortest) {
      throw new Llm2ClipError('E_CONFIG', `crop_size ${JSON.stringify(crop)} differs from size.shortest_edge ${shortest}; only square crops of the resized side are supported`, { path, field: 'crop_size' });
    }
    if (config.resample !== undefined && config.resample !== 3) {
      throw new Llm2ClipError('E_CONFIG', `resample ${String(config.resample)} is not bicubic (3)`, { path, field: 'resample' });
    }
    for (const flag of ['do_resize', 'do_center_crop', 'do_rescale', 'do_normalize'] as const) {
      if (config[flag] === false) throw new Llm2ClipError('E_CONFIG', `${flag}: false is not supported`, { path, field: flag });
    }
    if (config.rescale_factor !== undefined && Math.abs((config.rescale_factor as number) - 1 / 255) > 1e-12) {
      throw new Llm2ClipError('E_CONFIG', `rescale_factor ${String(config.rescale_factor)} is not 1/255`, { path, field: 'rescale_factor' });
    }
    return new ImagePreprocessor({
      ...options,
      imageSize: shortest,
      mean: (config.image_mean as number[] | undefined) ?? OPENAI_CLIP_MEAN,
      std: (config.image_std as number[] | undefined) ?? OPENAI_CLIP_STD,
    });
  }

  /**
   * open_clip's eval transform (`Resize(size, bicubic)`, `CenterCrop`, `ToTensor`, `Normalize`)
   * from an `open_clip_config.json` (`model_cfg.vision_cfg.image_size`, `preprocess_cfg.mean/std`).
   */
  static fromOpenClipConfig(json: unknown, options: Omit<ImagePreprocessorOptions, 'imageSize' | 'mean' | 'std'> = {}, path?: string): ImagePreprocessor {
    const config = (json ?? {}) as { model_cfg?: { vision_cfg?: { image_size?: unknown } }; preprocess_cfg?: Record<string, unknown> };
    const size = config.model_cfg?.vision_cfg?.image_size;
    const side = Array.isArray(size) ? size[0] : size;
    if (typeof side !== 'number' || (Array.isArray(size) && size[1] !== side)) {
      throw new Llm2ClipError('E_CONFIG', 'open_clip_config.json needs a square model_cfg.vision_cfg.image_size', { path, field: 'model_cfg.vision_cfg.image_size' });
    }
    const pre = config.preprocess_cfg ?? {};
    if (pre.interpolation !== undefined && pre.interpolation !== 'bicubic') throw new Llm2ClipError('E_CONFIG', `interpolation ${String(pre.interpolation)} is not supported`, { path, field: 'preprocess_cfg.interpolation' });
    if (pre.resize_mode !== undefined && pre.resize_mode !== 'shortest') throw new Llm2ClipError('E_CONFIG', `resize_mode ${String(pre.resize_mode)} is not supported`, { path, field: 'preprocess_cfg.resize_mode' });
    return new ImagePreprocessor({
      centerCrop: 'torchvision',
      ...options,
      imageSize: side,
      mean: (pre.mean as number[] | undefined) ?? OPENAI_CLIP_MEAN,
      std: (pre.std as number[] | undefined) ?? OPENAI_CLIP_STD,
    });
  }

  /** The settings that change outputs (for fingerprints and saved configs). */
  describe(): { imageSize: number; mean: number[]; std: number[]; resize: string; resample: Resample; centerCrop: CenterCropRounding } {
    return { imageSize: this.imageSize, mean: [...this.mean], std: [...this.std], resize: this.resize, resample: this.resample, centerCrop: this.centerCrop };
  }

  /** This preprocessing as a Hugging Face `preprocessor_config.json` (`CLIPImageProcessor`). */
  toPreprocessorConfig(): Record<string, unknown> {
    return {
      crop_size: { height: this.imageSize, width: this.imageSize },
      do_center_crop: true,
      do_convert_rgb: true,
      do_normalize: true,
      do_rescale: true,
      do_resize: true,
      image_mean: [...this.mean],
      image_processor_type: 'CLIPImageProcessor',
      image_std: [...this.std],
      resample: 3,
      rescale_factor: 1 / 255,
      size: { shortest_edge: this.imageSize },
    };
  }

  /** Size after the shortest-edge resize: shorter side `imageSize`, longer side scaled and truncated. */
  resizedSize(width: number, height: number): { width: number; height: number } {
    return shortestEdgeSize(width, height, this.imageSize);
  }

  /** The centered `imageSize²` box inside a `width × height` image (rounding per {@link centerCrop}). */
  centerCropBox(width: number, height: number): CropBox {
    return centerCropBoxOf(width, height, this.imageSize, this.centerCrop);
  }

  private open(ref: ImageRef): Sharp {
    const options = { limitInputPixels: this.limitInputPixels, failOn: 'error' as const };
    if (ref.kind === 'encoded') return sharp(ref.bytes, options);
    if (ref.kind === 'raw') {
      this.checkRaw(ref);
      return sharp(ref.data, { ...options, raw: { width: ref.width, height: ref.height, channels: ref.channels } });
    }
    throw new Llm2ClipError('E_DATA', `unknown image kind ${(ref as { kind?: unknown }).kind}`, { field: 'image.kind' });
  }

  private checkRaw(ref: RawImage): void {
    if (ref.data.length !== ref.width * ref.height * ref.channels) {
      throw new Llm2ClipError('E_DATA', `raw image ${ref.width}x${ref.height}x${ref.channels} needs ${ref.width * ref.height * ref.channels} bytes, got ${ref.data.length}`, { field: 'image' });
    }
    if (ref.width * ref.height > this.limitInputPixels) {
      throw new Llm2ClipError('E_DATA', `image ${ref.width}x${ref.height} exceeds limitInputPixels ${this.limitInputPixels}`, { field: 'image' });
    }
  }

  private async toRaw(pipeline: Sharp): Promise<RawImage> {
    let result: { data: Buffer; info: OutputInfo };
    try {
      result = await pipeline.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    } catch (cause) {
      if (cause instanceof Llm2ClipError) throw cause;
      throw new Llm2ClipError('E_DATA', `cannot decode image: ${(cause as Error).message}`, { field: 'image', cause });
    }
    const { width, height, channels } = result.info;
    let data = new Uint8Array(result.data.buffer, result.data.byteOffset, result.data.byteLength);
    if (channels === 1) {
      const rgb = new Uint8Array(width * height * 3);
      for (let i = 0; i < width * height; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = data[i];
      data = rgb;
    } else if (channels !== 3) {
      throw new Llm2ClipError('E_DATA', `decoded image has ${channels} channels, expected 3`, { field: 'image' });
    }
    return { kind: 'raw', width, height, channels: 3, data };
  }

  /** Decodes `ref` to RGB pixels at its own size (alpha dropped, as PIL's `convert('RGB')`). */
  async decode(ref: ImageRef): Promise<RawImage> {
    if (ref.kind === 'raw' && ref.channels === 3) {
      this.checkRaw(ref);
      return ref;
    }
    return this.toRaw(this.open(ref));
  }

  private async dimensions(ref: ImageRef): Promise<{ width: number; height: number }> {
    if (ref.kind === 'raw') return { width: ref.width, height: ref.height };
    try {
      const meta = await this.open(ref).metadata();
      if (meta.width === undefined || meta.height === undefined) throw new Error('no dimensions');
      return { width: meta.width, height: meta.height };
    } catch (cause) {
      if (cause instanceof Llm2ClipError) throw cause;
      throw new Llm2ClipError('E_DATA', `cannot read image header: ${(cause as Error).message}`, { field: 'image', cause });
    }
  }

  /** Resizes decoded RGB pixels with this preprocessor's resampler. */
  private async resizeRaw(image: RawImage, width: number, height: number): Promise<RawImage> {
    if (width === image.width && height === image.height) return image;
    if (this.resample === 'pil') return resizeBicubicPil(image, width, height);
    return this.toRaw(this.open(image).resize(width, height, { fit: 'fill', kernel: 'cubic' }));
  }

  /** Resizes the shorter side to `imageSize` (bicubic), keeping the aspect ratio; no crop. */
  async resizeShortestEdge(ref: ImageRef): Promise<RawImage> {
    const image = await this.decode(ref);
    const target = this.resizedSize(image.width, image.height);
    return this.resizeRaw(image, target.width, target.height);
  }

  /** Evaluation geometry without normalisation: shortest-edge resize then center crop, RGB bytes. */
  async resizeAndCrop(ref: ImageRef): Promise<RawImage> {
    const resized = await this.resizeShortestEdge(ref);
    if (resized.width === this.imageSize && resized.height === this.imageSize) return resized;
    return cropRaw(resized, this.centerCropBox(resized.width, resized.height));
  }

  /** Rescales and normalises an `imageSize²` RGB image into CHW float32. */
  normalize(image: RawImage): Float32Array {
    const size = this.imageSize;
    if (image.width !== size || image.height !== size) {
      throw new Llm2ClipError('E_SHAPE', `expected a ${size}x${size} image, got ${image.width}x${image.height}`, { field: 'image' });
    }
    const plane = size * size;
    const out = new Float32Array(3 * plane);
    const stride = image.channels;
    for (let c = 0; c < 3; c++) {
      // (x/255 − mean)/std as transformers computes it: rescale, then normalise, in float32
      const mean = Math.fround(this.mean[c]);
      const std = Math.fround(this.std[c]);
      const offset = c * plane;
      for (let i = 0; i < plane; i++) out[offset + i] = (Math.fround(image.data[i * stride + c] / 255) - mean) / std;
    }
    return out;
  }

  /** Evaluation preprocessing of one image: shortest-edge resize, center crop, normalise → CHW. */
  async preprocess(ref: ImageRef): Promise<Float32Array> {
    return this.normalize(await this.resizeAndCrop(ref));
  }

  /** The random resized crop of one image for `box` (crop, then bicubic to `imageSize²`), RGB bytes. */
  async cropAndResize(ref: ImageRef, box: CropBox): Promise<RawImage> {
    const image = await this.decode(ref);
    // Pillow-exact: crop + resize in one pass over the box, no copy of the crop (same bytes)
    if (this.resample === 'pil' && !(box.width === this.imageSize && box.height === this.imageSize)) return resizeCropBicubicPil(image, box, this.imageSize, this.imageSize);
    return this.resizeRaw(cropRaw(image, box), this.imageSize, this.imageSize);
  }

  /**
   * Training augmentation: a random crop (torchvision `RandomResizedCrop`, area 0.9–1.0 and ratio
   * 3/4–4/3 by default) resized to `imageSize²` (bicubic), normalised → CHW. Draws from `rng`.
   */
  async randomResizedCrop(ref: ImageRef, rng: Rng, options: RandomResizedCropOptions = {}): Promise<Float32Array> {
    const { width, height } = await this.dimensions(ref);
    const box = randomResizedCropBox(width, height, rng, options);
    return this.normalize(await this.cropAndResize(ref, box));
  }

  /** Stacks CHW arrays of this preprocessor into a `[batch, 3, size, size]` tensor (caller owns it). */
  stack(images: readonly Float32Array[]): tf.Tensor4D {
    const size = this.imageSize;
    const per = 3 * size * size;
    const data = new Float32Array(images.length * per);
    images.forEach((image, i) => {
      if (image.length !== per) throw new Llm2ClipError('E_SHAPE', `image ${i} has ${image.length} values, expected ${per}`, { field: 'pixels' });
      data.set(image, i * per);
    });
    return tf.tensor4d(data, [images.length, 3, size, size], 'float32');
  }

  /** Preprocesses several images, `concurrency` in flight at once; results keep the input order. */
  async preprocessMany(refs: readonly ImageRef[], augment?: { rng: Rng; options?: RandomResizedCropOptions }): Promise<Float32Array[]> {
    const out: Float32Array[] = new Array(refs.length);
    if (augment !== undefined) {
      // draw every crop box first, in input order, so results do not depend on decode timing
      const boxes: CropBox[] = [];
      for (const ref of refs) {
        const { width, height } = await this.dimensions(ref);
        boxes.push(randomResizedCropBox(width, height, augment.rng, augment.options));
      }
      await this.inChunks(refs.length, async (i) => {
        out[i] = this.normalize(await this.cropAndResize(refs[i], boxes[i]));
      });
      return out;
    }
    await this.inChunks(refs.length, async (i) => {
      out[i] = await this.preprocess(refs[i]);
    });
    return out;
  }

  /** {@link preprocessMany} stacked into a `[batch, 3, size, size]` tensor (caller owns it). */
  async preprocessBatch(refs: readonly ImageRef[], augment?: { rng: Rng; options?: RandomResizedCropOptions }): Promise<tf.Tensor4D> {
    return this.stack(await this.preprocessMany(refs, augment));
  }

  private async inChunks(count: number, work: (index: number) => Promise<void>): Promise<void> {
    for (let start = 0; start < count; start += this.concurrency) {
      const jobs: Promise<void>[] = [];
      for (let i = start; i < Math.min(count, start + this.concurrency); i++) jobs.push(work(i));
      await Promise.all(jobs);
    }
  }
}

import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import type { Sharp, OutputInfo } from 'sharp';
import { Llm2ClipError, type ImageRef, type RawImage, type Rng } from '@llm2clip/core';

/** Per-channel RGB mean of OpenAI CLIP's preprocessing. */
export const OPENAI_CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
/** Per-channel RGB standard deviation of OpenAI CLIP's preprocessing. */
export const OPENAI_CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** A crop rectangle in pixels. */
export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

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
}

/** Options of {@link ImagePreprocessor.randomResizedCrop}, torchvision's `RandomResizedCrop`. */
export interface RandomResizedCropOptions {
  /** Range of the crop's area as a fraction of the image. Default `[0.9, 1.0]`. */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio (width/height). Default `[3/4, 4/3]`. */
  ratio?: readonly [number, number];
}

/**
 * The crop box torchvision's `RandomResizedCrop.get_params` draws (10 tries at a random area and
 * log-uniform aspect ratio, then a center-crop fallback), drawing from `rng`.
 */
export function randomResizedCropBox(width: number, height: number, rng: Rng, options: RandomResizedCropOptions = {}): CropBox {
  const [minScale, maxScale] = options.scale ?? [0.9, 1.0];
  const [minRatio, maxRatio] = options.ratio ?? [3 / 4, 4 / 3];
  const area = width * height;
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(minScale, maxScale);
    const aspect = Math.exp(rng.uniform(Math.log(minRatio), Math.log(maxRatio)));
    const w = Math.round(Math.sqrt(targetArea * aspect));
    const h = Math.round(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return { top: rng.int(0, height - h), left: rng.int(0, width - w), width: w, height: h };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < minRatio) h = Math.round(w / minRatio);
  else if (inRatio > maxRatio) w = Math.round(h * maxRatio);
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), width: w, height: h };
}

/**
 * CLIP image preprocessing with sharp: decode an {@link ImageRef} (encoded bytes via sharp, raw
 * pixels as they are), resize the shorter side to `imageSize` with bicubic (sharp's `cubic`, a
 * Catmull-Rom kernel like PIL's bicubic), center-crop to `imageSize²` (Hugging Face's
 * `CLIPImageProcessor` geometry), rescale by 1/255 and normalise per channel. Output is a
 * `Float32Array` in CHW order; the batch helpers stack them into a `[batch, 3, size, size]` tensor.
 *
 * @example
 * ```ts
 * const pre = new ImagePreprocessor({ imageSize: 64 });
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
    this.limitInputPixels = options.limitInputPixels ?? 64 * 1024 * 1024;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
  }

  /** The settings that change outputs (for fingerprints and saved configs). */
  describe(): { imageSize: number; mean: number[]; std: number[]; resize: string } {
    return { imageSize: this.imageSize, mean: [...this.mean], std: [...this.std], resize: this.resize };
  }

  /** Size after the shortest-edge resize: shorter side `imageSize`, longer side scaled and floored. */
  resizedSize(width: number, height: number): { width: number; height: number } {
    const size = this.imageSize;
    if (width <= height) return { width: size, height: Math.max(size, Math.floor((size * height) / width)) };
    return { width: Math.max(size, Math.floor((size * width) / height)), height: size };
  }

  /** The centered `imageSize²` box inside a `width × height` image (offsets floored). */
  centerCropBox(width: number, height: number): CropBox {
    const size = this.imageSize;
    return { left: Math.floor((width - size) / 2), top: Math.floor((height - size) / 2), width: size, height: size };
  }

  private open(ref: ImageRef): Sharp {
    const options = { limitInputPixels: this.limitInputPixels, failOn: 'error' as const };
    if (ref.kind === 'encoded') return sharp(ref.bytes, options);
    if (ref.kind === 'raw') {
      if (ref.data.length !== ref.width * ref.height * ref.channels) {
        throw new Llm2ClipError('E_DATA', `raw image ${ref.width}x${ref.height}x${ref.channels} needs ${ref.width * ref.height * ref.channels} bytes, got ${ref.data.length}`, { field: 'image' });
      }
      return sharp(ref.data, { ...options, raw: { width: ref.width, height: ref.height, channels: ref.channels } });
    }
    throw new Llm2ClipError('E_DATA', `unknown image kind ${(ref as { kind?: unknown }).kind}`, { field: 'image.kind' });
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

  /** Decodes `ref` to RGB pixels at its own size. */
  async decode(ref: ImageRef): Promise<RawImage> {
    if (ref.kind === 'raw' && ref.channels === 3) return ref;
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

  /** Resizes the shorter side to `imageSize` (bicubic), keeping the aspect ratio; no crop. */
  async resizeShortestEdge(ref: ImageRef): Promise<RawImage> {
    const { width, height } = await this.dimensions(ref);
    const target = this.resizedSize(width, height);
    return this.toRaw(this.open(ref).resize(target.width, target.height, { fit: 'fill', kernel: 'cubic' }));
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
      const scale = 1 / (255 * this.std[c]);
      const shift = this.mean[c] / this.std[c];
      const offset = c * plane;
      for (let i = 0; i < plane; i++) out[offset + i] = image.data[i * stride + c] * scale - shift;
    }
    return out;
  }

  /** Evaluation preprocessing of one image: shortest-edge resize, center crop, normalise → CHW. */
  async preprocess(ref: ImageRef): Promise<Float32Array> {
    if (ref.kind === 'raw' && ref.channels === 3 && ref.width === this.imageSize && ref.height === this.imageSize) return this.normalize(ref);
    const { width, height } = await this.dimensions(ref);
    const target = this.resizedSize(width, height);
    let pipeline = this.open(ref);
    if (target.width !== width || target.height !== height) pipeline = pipeline.resize(target.width, target.height, { fit: 'fill', kernel: 'cubic' });
    if (target.width !== this.imageSize || target.height !== this.imageSize) pipeline = pipeline.extract(this.centerCropBox(target.width, target.height));
    return this.normalize(await this.toRaw(pipeline));
  }

  /**
   * Training augmentation: a random crop (torchvision `RandomResizedCrop`, area 0.9–1.0 and ratio
   * 3/4–4/3 by default) resized to `imageSize²` (bicubic), normalised → CHW. Draws from `rng`.
   */
  async randomResizedCrop(ref: ImageRef, rng: Rng, options: RandomResizedCropOptions = {}): Promise<Float32Array> {
    const { width, height } = await this.dimensions(ref);
    const box = randomResizedCropBox(width, height, rng, options);
    const pipeline = this.open(ref).extract(box).resize(this.imageSize, this.imageSize, { fit: 'fill', kernel: 'cubic' });
    return this.normalize(await this.toRaw(pipeline));
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
        const pipeline = this.open(refs[i]).extract(boxes[i]).resize(this.imageSize, this.imageSize, { fit: 'fill', kernel: 'cubic' });
        out[i] = this.normalize(await this.toRaw(pipeline));
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

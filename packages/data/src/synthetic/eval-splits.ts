import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Llm2ClipError, Rng, writeFileAtomic, writeJsonAtomic, type RawImage } from '@llm2clip/core';
import { longCaption, shortCaption } from './captions.js';
import { DEFAULT_IMAGE_SIZE, renderScene } from './render.js';
import { SHAPES, generateScene, type Scene } from './scene.js';

/** `format` of the `synthetic-eval.json` written beside each synthetic eval split. */
export const SYNTHETIC_EVAL_FORMAT = 'llm2clip.synthetic-eval';
/** `version` of `synthetic-eval.json`. */
export const SYNTHETIC_EVAL_VERSION = 1;

/** Options shared by the synthetic eval split writers. */
export interface SyntheticEvalOptions {
  /** Seed of every scene and caption. */
  seed: number;
  /** Image side in pixels (default 64). */
  imageSize?: number;
  /** JPEG quality of the images (default 92). */
  jpegQuality?: number;
}

/** What a synthetic eval writer returns. */
export interface SyntheticEvalInfo {
  format: typeof SYNTHETIC_EVAL_FORMAT;
  version: number;
  /** `flickr-like`, `urban1k-like` or `class-folders`. */
  kind: string;
  seed: number;
  imageSize: number;
  /** Images written. */
  images: number;
  /** Files a reader opens, relative to the split directory. */
  files: Record<string, string>;
}

function check(value: number, field: string, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new Llm2ClipError('E_CONFIG', `${field} must be an integer >= ${min}, got ${value}`, { field });
}

async function encodeJpeg(image: RawImage, quality: number): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } }).jpeg({ quality }).toBuffer();
}

async function writeInfo(dir: string, info: SyntheticEvalInfo): Promise<SyntheticEvalInfo> {
  await writeJsonAtomic(join(dir, 'synthetic-eval.json'), info);
  return info;
}

function distinctCaptions(count: number, draw: () => string): string[] {
  const captions: string[] = [];
  for (let attempt = 0; captions.length < count && attempt < count * 8; attempt++) {
    const caption = draw();
    if (!captions.includes(caption)) captions.push(caption);
  }
  while (captions.length < count) captions.push(draw());
  return captions;
}

/** Options of {@link writeFlickrLikeSplit}. */
export interface FlickrLikeOptions extends SyntheticEvalOptions {
  /** Test images (default 100). */
  testImages?: number;
  /** Training images, also listed in the split file (default 0). */
  trainImages?: number;
  /** Captions per image (default 5, as Flickr30k and COCO). */
  captionsPerImage?: number;
}

/**
 * Writes a Flickr30k-like retrieval split in the real Karpathy layout: `flickr30k-images/<n>.jpg`
 * and `dataset_flickr30k.json` (`images[]` with `filename`, `imgid`, `split`, `sentids`,
 * `sentences[]` of `raw`, `tokens`, `imgid`, `sentid`), five short captions per image, so
 * `KarpathySplitSource` and any Karpathy-split tool read it like the real thing.
 */
export async function writeFlickrLikeSplit(outDir: string, options: FlickrLikeOptions): Promise<SyntheticEvalInfo> {
  const imageSize = options.imageSize ?? DEFAULT_IMAGE_SIZE;
  const testImages = options.testImages ?? 100;
  const trainImages = options.trainImages ?? 0;
  const perImage = options.captionsPerImage ?? 5;
  check(testImages, 'testImages', 1);
  check(trainImages, 'trainImages', 0);
  check(perImage, 'captionsPerImage', 1);
  const rng = new Rng(options.seed).fork(11);
  await mkdir(join(outDir, 'flickr30k-images'), { recursive: true });
  const images: unknown[] = [];
  let sentid = 0;
  for (let imgid = 0; imgid < trainImages + testImages; imgid++) {
    const scene = generateScene(rng);
    const raws = distinctCaptions(perImage, () => shortCaption(scene, rng));
    const filename = `${String(1000000 + imgid)}.jpg`;
    await writeFile(join(outDir, 'flickr30k-images', filename), await encodeJpeg(renderScene(scene, imageSize), options.jpegQuality ?? 92));
    const sentences = raws.map((raw) => ({ tokens: raw.toLowerCase().replace(/[.,]/g, '').split(/\s+/), raw, imgid, sentid: sentid++ }));
    images.push({ sentids: sentences.map((s) => s.sentid), imgid, sentences, split: imgid < trainImages ? 'train' : 'test', filename });
  }
  await writeJsonAtomic(join(outDir, 'dataset_flickr30k.json'), { images, dataset: 'flickr30k' });
  return writeInfo(outDir, {
    format: SYNTHETIC_EVAL_FORMAT,
    version: SYNTHETIC_EVAL_VERSION,
    kind: 'flickr-like',
    seed: options.seed,
    imageSize,
    images: trainImages + testImages,
    files: { annotations: 'dataset_flickr30k.json', images: 'flickr30k-images' },
  });
}

/** Options of {@link writeUrbanLikeSplit}. */
export interface UrbanLikeOptions extends SyntheticEvalOptions {
  /** Images (default 100; the real Urban-1k has 1,000). */
  images?: number;
  /** Fewest objects per scene (default 3, so the long captions run past 77 tokens). */
  minObjects?: number;
}

/**
 * Writes an Urban-1k-like long-caption retrieval split in the real layout: `image/<n>.jpg` and
 * `caption/<n>.txt`, one long caption per image (1:1), from scenes with several objects so the
 * distinguishing details often come after CLIP's 77-token window.
 */
export async function writeUrbanLikeSplit(outDir: string, options: UrbanLikeOptions): Promise<SyntheticEvalInfo> {
  const imageSize = options.imageSize ?? DEFAULT_IMAGE_SIZE;
  const count = options.images ?? 100;
  check(count, 'images', 1);
  const rng = new Rng(options.seed).fork(12);
  await mkdir(join(outDir, 'image'), { recursive: true });
  await mkdir(join(outDir, 'caption'), { recursive: true });
  for (let i = 0; i < count; i++) {
    const scene = generateScene(rng, { minObjects: options.minObjects ?? 3 });
    const stem = String(i + 1);
    await writeFile(join(outDir, 'image', `${stem}.jpg`), await encodeJpeg(renderScene(scene, imageSize), options.jpegQuality ?? 92));
    await writeFile(join(outDir, 'caption', `${stem}.txt`), `${longCaption(scene, rng)}\n`);
  }
  return writeInfo(outDir, {
    format: SYNTHETIC_EVAL_FORMAT,
    version: SYNTHETIC_EVAL_VERSION,
    kind: 'urban1k-like',
    seed: options.seed,
    imageSize,
    images: count,
    files: { images: 'image', captions: 'caption' },
  });
}

/** Options of {@link writeClassFolderSplit}. */
export interface ClassFolderOptions extends SyntheticEvalOptions {
  /** Images per class (default 10). */
  imagesPerClass?: number;
}

/** The zero-shot prompt templates written with the synthetic class-folder split (`{c}` = class name). */
export const SYNTHETIC_ZERO_SHOT_TEMPLATES = ['a photo of a {c}.', 'a picture of a {c}.', 'an image with a {c} in it.', 'a {c} on a background.'];

/**
 * Writes an ImageNet-style zero-shot classification split: one class per shape, folders named like
 * WordNet ids (`val/n00000000/…jpg`), `classnames.txt` (readable names in label order) and
 * `zeroshot_classification_templates.txt` (CLIP_benchmark's file names). Each image is a scene with
 * one object of its class, of random colour, size, texture, position and background.
 */
export async function writeClassFolderSplit(outDir: string, options: ClassFolderOptions): Promise<SyntheticEvalInfo> {
  const imageSize = options.imageSize ?? DEFAULT_IMAGE_SIZE;
  const perClass = options.imagesPerClass ?? 10;
  check(perClass, 'imagesPerClass', 1);
  const rng = new Rng(options.seed).fork(13);
  for (const [label, shape] of SHAPES.entries()) {
    const folder = join(outDir, 'val', `n${String(label).padStart(8, '0')}`);
    await mkdir(folder, { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const drawn = generateScene(rng, { minObjects: 1, maxObjects: 1 });
      const scene: Scene = { ...drawn, objects: [{ ...drawn.objects[0], shape }] };
      await writeFile(join(folder, `${shape}_${String(i).padStart(4, '0')}.jpg`), await encodeJpeg(renderScene(scene, imageSize), options.jpegQuality ?? 92));
    }
  }
  await writeFileAtomic(join(outDir, 'classnames.txt'), `${SHAPES.join('\n')}\n`);
  await writeFileAtomic(join(outDir, 'zeroshot_classification_templates.txt'), `${SYNTHETIC_ZERO_SHOT_TEMPLATES.join('\n')}\n`);
  return writeInfo(outDir, {
    format: SYNTHETIC_EVAL_FORMAT,
    version: SYNTHETIC_EVAL_VERSION,
    kind: 'class-folders',
    seed: options.seed,
    imageSize,
    images: perClass * SHAPES.length,
    files: { images: 'val', classnames: 'classnames.txt', templates: 'zeroshot_classification_templates.txt' },
  });
}

import { Llm2ClipError, type Sample } from '@llm2clip/core';
import { resolveCaptionSelector, type CaptionSelector } from './caption-selector.js';
import { hashImage, iterateSamples, reReadImages, setHash, type EvalSampleInput, type RetrievalEvalSet } from './eval-set.js';

/** Options of {@link retrievalSet}. */
export interface RetrievalSetOptions {
  /** Benchmark name used in reports. */
  name: string;
  /** `multi-caption` (default) or `one-to-one` (exactly one caption per image is kept). */
  protocol?: 'multi-caption' | 'one-to-one';
  /** Which captions of a sample to use (kind name or filter). Default: all. */
  captions?: CaptionSelector;
  /** Keep at most this many captions per image (the first ones). Default: all (1 for `one-to-one`). */
  captionsPerImage?: number;
  /** Keep only samples for which this returns true (e.g. a split). Default: all. */
  filter?: (sample: Sample) => boolean;
  /** The benchmark's usual image count; a different count is noted (not an error). */
  expectedImages?: number;
}

/**
 * Reads `input` once and builds a {@link RetrievalEvalSet}: each kept sample is one gallery image,
 * its selected captions (up to `captionsPerImage`) are text queries pointing at it. Samples
 * without a selected caption, or rejected by `filter`, are skipped and counted.
 *
 * @throws Llm2ClipError `E_DATA` when no sample is left or keys repeat, `E_CONFIG` for bad options.
 */
export async function retrievalSet(input: EvalSampleInput, options: RetrievalSetOptions): Promise<RetrievalEvalSet> {
  const protocol = options.protocol ?? 'multi-caption';
  const perImage = options.captionsPerImage ?? (protocol === 'one-to-one' ? 1 : Infinity);
  if (protocol === 'one-to-one' && perImage !== 1) {
    throw new Llm2ClipError('E_CONFIG', 'one-to-one retrieval keeps exactly one caption per image', { field: 'captionsPerImage' });
  }
  if (!(perImage >= 1)) throw new Llm2ClipError('E_CONFIG', `captionsPerImage must be ≥ 1, got ${perImage}`, { field: 'captionsPerImage' });
  const selector = resolveCaptionSelector(options.captions ?? { name: 'all', filter: () => true });
  const hash = setHash(`retrieval:${protocol}:${selector.name}:${perImage}`, options.name);
  const imageKeys: string[] = [];
  const seen = new Set<string>();
  const captions: string[] = [];
  const captionImage: number[] = [];
  let skipped = 0;
  for await (const sample of iterateSamples(input)) {
    if (options.filter !== undefined && !options.filter(sample)) {
      skipped++;
      continue;
    }
    const picked = selector.select(sample).slice(0, perImage === Infinity ? undefined : perImage);
    if (picked.length === 0) {
      skipped++;
      continue;
    }
    if (seen.has(sample.key)) throw new Llm2ClipError('E_DATA', `eval set '${options.name}': key '${sample.key}' appears twice`, { key: sample.key });
    seen.add(sample.key);
    const row = imageKeys.length;
    imageKeys.push(sample.key);
    hash.update(`${sample.key}\u0000`);
    hashImage(hash, sample.image);
    for (const index of picked) {
      captions.push(sample.captions[index]);
      captionImage.push(row);
      hash.update(`${sample.captions[index]}\u0001`);
    }
  }
  if (imageKeys.length === 0) {
    throw new Llm2ClipError('E_DATA', `eval set '${options.name}': no sample with a usable caption (${skipped} skipped)`, { field: 'captions' });
  }
  const notes: string[] = [];
  if (options.expectedImages !== undefined && imageKeys.length !== options.expectedImages) {
    notes.push(`${options.name}: ${imageKeys.length} images where the benchmark has ${options.expectedImages}; numbers are not comparable to published ones`);
  }
  return {
    task: 'retrieval',
    name: options.name,
    protocol,
    imageKeys,
    captions,
    captionImage: Int32Array.from(captionImage),
    fingerprint: hash.digest('hex').slice(0, 16),
    notes,
    skipped,
    images: reReadImages(input, imageKeys, options.name),
  };
}

/** Options shared by the named benchmark adapters. */
export interface BenchmarkAdapterOptions {
  /** Override the benchmark name. */
  name?: string;
  /**
   * Keep samples whose `meta.split` equals this (Karpathy split files mark `train` / `val` /
   * `test` / `restval`). Default `'test'` for Flickr30k / COCO; samples without `meta.split` are
   * kept (the source was already one split).
   */
  split?: string;
}

function splitFilter(split: string | undefined): ((sample: Sample) => boolean) | undefined {
  if (split === undefined) return undefined;
  return (sample) => {
    const value = sample.meta?.split;
    return value === undefined || value === split;
  };
}

/**
 * Flickr30k, Karpathy test split (1,000 images, 5 captions each): the first five captions of each
 * image, as open_clip / CLIP_benchmark evaluate it.
 */
export function flickr30kKarpathySet(input: EvalSampleInput, options: BenchmarkAdapterOptions = {}): Promise<RetrievalEvalSet> {
  return retrievalSet(input, {
    name: options.name ?? 'flickr30k-karpathy-test',
    captionsPerImage: 5,
    filter: splitFilter(options.split ?? 'test'),
    expectedImages: 1000,
  });
}

/**
 * MS-COCO, Karpathy 5k test split (5,000 images; the first five captions of each, 25,000 texts —
 * a few images have six or seven, which the standard protocol drops).
 */
export function cocoKarpathySet(input: EvalSampleInput, options: BenchmarkAdapterOptions = {}): Promise<RetrievalEvalSet> {
  return retrievalSet(input, {
    name: options.name ?? 'coco-karpathy-5k-test',
    captionsPerImage: 5,
    filter: splitFilter(options.split ?? 'test'),
    expectedImages: 5000,
  });
}

/**
 * The long caption of a sample for 1:1 long-caption benchmarks: its first caption of kind `long`
 * when it has one (the synthetic data, Urban-1k), otherwise its first caption (ShareGPT4V's `gpt`
 * caption, DOCCI's `description`, sources without caption kinds).
 */
export const LONG_CAPTION: CaptionSelector = {
  name: 'long',
  filter: (_caption, _kind, index, sample) => {
    const longIndex = sample.captionKinds?.indexOf('long') ?? -1;
    return longIndex >= 0 ? index === longIndex : index === 0;
  },
};

/** A 1:1 long-caption retrieval set (one long caption per image). */
function longCaptionSet(input: EvalSampleInput, name: string, expectedImages: number | undefined, options: BenchmarkAdapterOptions): Promise<RetrievalEvalSet> {
  return retrievalSet(input, {
    name: options.name ?? name,
    protocol: 'one-to-one',
    captions: LONG_CAPTION,
    filter: splitFilter(options.split),
    expectedImages,
  });
}

/** ShareGPT4V-1k (Long-CLIP's 1,000 held-out ShareGPT4V images with their long captions), 1:1. */
export function shareGpt4v1kSet(input: EvalSampleInput, options: BenchmarkAdapterOptions = {}): Promise<RetrievalEvalSet> {
  return longCaptionSet(input, 'sharegpt4v-1k', 1000, options);
}

/** Urban-1k (1,000 urban scenes with long captions, from Long-CLIP), 1:1. */
export function urban1kSet(input: EvalSampleInput, options: BenchmarkAdapterOptions = {}): Promise<RetrievalEvalSet> {
  return longCaptionSet(input, 'urban-1k', 1000, options);
}

/** DOCCI (dense human-written descriptions; pass its `test` split or set `split`), 1:1. */
export function docciSet(input: EvalSampleInput, options: BenchmarkAdapterOptions = {}): Promise<RetrievalEvalSet> {
  return longCaptionSet(input, 'docci', undefined, options);
}

/**
 * A CLIP_benchmark webdataset retrieval set (`wds_flickr30k`, `wds_mscoco_captions`, …): every
 * caption of a sample (the `.txt` member, one caption per line) describes its image.
 */
export function clipBenchmarkRetrievalSet(input: EvalSampleInput, options: { name: string }): Promise<RetrievalEvalSet> {
  return retrievalSet(input, { name: options.name });
}

/**
 * The held-out split of the synthetic dataset (`@llm2clip/data`'s `openSyntheticSplit(dir,
 * 'test')`) as two sets: its short captions (`<name>-short`, several per image) and its long
 * captions (`<name>-long`).
 */
export async function syntheticRetrievalSets(
  input: EvalSampleInput,
  options: { name?: string } = {},
): Promise<{ short: RetrievalEvalSet; long: RetrievalEvalSet }> {
  const name = options.name ?? 'synthetic';
  return {
    short: await retrievalSet(input, { name: `${name}-short`, captions: 'short' }),
    long: await retrievalSet(input, { name: `${name}-long`, captions: 'long' }),
  };
}

import { Llm2ClipError, type EmbeddingMatrix, type ProgressCallback } from '@llm2clip/core';
import {
  assertSameDim,
  blockFiller,
  dotRows,
  prepareEmbeddings,
  resolveBlockRows,
  type SimilarityOptions,
} from './similarity.js';

/** Recall values keyed `r1`, `r5`, `r10`, … (one per requested k), each a fraction in [0, 1]. */
export type RecallAtK = { readonly [key: `r${number}`]: number };

/**
 * Metrics of one retrieval direction.
 *
 * - `rK`: fraction of queries with a correct item among the top K (in [0, 1]).
 * - `meanRank`: mean 1-based rank of the (best) correct item.
 * - `medianRank`: `floor(median)` of the 1-based ranks, where the median of an even count is the
 *   mean of the two middle ranks — open_clip's `get_clip_metrics` convention.
 * - `queries`: number of queries the metrics average over.
 */
export interface DirectionMetrics extends RecallAtK {
  readonly meanRank: number;
  readonly medianRank: number;
  readonly queries: number;
}

/** How many items took part in a retrieval evaluation. */
export interface RetrievalCounts {
  /** Images in the gallery (every image is a candidate for text→image). */
  readonly images: number;
  /** Texts (captions) in the gallery / text queries. */
  readonly texts: number;
  /** Images with no matching text: candidates for text→image, but not image→text queries. */
  readonly imagesWithoutTexts: number;
}

/**
 * Image–text retrieval metrics as open_clip / CLIP_benchmark define them, named by query
 * direction:
 *
 * - `i2t` (image→text, "text retrieval" in CLIP_benchmark): each image with at least one caption
 *   queries all texts; it counts as a hit at k when **any** of its captions is in the top k, and
 *   its rank is the rank of its best-ranked caption.
 * - `t2i` (text→image, "image retrieval" in CLIP_benchmark): each text queries all images; hit at
 *   k when its image is in the top k.
 *
 * Ties are broken by lower index first (see {@link ranksBefore}).
 */
export interface RetrievalMetrics {
  /** The k values of the `rK` fields, in the order requested. */
  readonly ks: readonly number[];
  /** Image→text metrics (queries: images that have at least one text). */
  readonly i2t: DirectionMetrics;
  /** Text→image metrics (queries: all texts). */
  readonly t2i: DirectionMetrics;
  /** Sizes of the evaluation. */
  readonly counts: RetrievalCounts;
}

/** 1-based ranks of the correct items, per query, in both directions. */
export interface RetrievalRanks {
  /** Per image: rank of its best-ranked caption among all texts; `0` for an image with no text. */
  readonly i2t: Int32Array;
  /** Per text: rank of its image among all images. */
  readonly t2i: Int32Array;
}

/** Options of {@link retrievalRanks} and {@link retrievalMetrics}. */
export interface RetrievalOptions extends SimilarityOptions {
  /** Recall cut-offs. Default `[1, 5, 10]`. */
  ks?: readonly number[];
  /** Receives `{ task: 'rank', unit: 'image' }` events after each block of image rows. */
  onProgress?: ProgressCallback;
}

/** Default recall cut-offs. */
export const DEFAULT_KS: readonly number[] = [1, 5, 10];

/**
 * Ranks of the correct items in both directions from a single blockwise pass over the
 * image × text cosine similarities (the full matrix is never held).
 *
 * Tie convention: among equal scores the item with the lower index ranks first, i.e.
 * `rank(j) = 1 + #{strictly higher} + #{equal with lower index}`. For text→image the candidates
 * are images (lower image index first); for image→text they are texts (lower text index first).
 *
 * @param images `N × dim` image embeddings (normalised here unless `assumeNormalized`).
 * @param texts `M × dim` text embeddings.
 * @param textToImage `M` image indices: the image each text describes.
 * @throws Llm2ClipError `E_SHAPE` for mismatched dims or a `textToImage` of the wrong length,
 *   `E_DATA` for an out-of-range image index, empty inputs or non-finite embeddings.
 */
export function retrievalRanks(
  images: EmbeddingMatrix,
  texts: EmbeddingMatrix,
  textToImage: Int32Array | readonly number[],
  options: RetrievalOptions = {},
): RetrievalRanks {
  assertSameDim(images, 'images', texts, 'texts');
  if (images.rows === 0) throw new Llm2ClipError('E_DATA', 'retrieval needs at least one image', { field: 'images' });
  if (texts.rows === 0) throw new Llm2ClipError('E_DATA', 'retrieval needs at least one text', { field: 'texts' });
  if (textToImage.length !== texts.rows) {
    throw new Llm2ClipError('E_SHAPE', `textToImage has ${textToImage.length} entries for ${texts.rows} texts`, {
      field: 'textToImage',
    });
  }
  const imageCount = images.rows;
  const textCount = texts.rows;
  const owner = new Int32Array(textCount);
  const captionsPerImage = new Int32Array(imageCount + 1);
  for (let j = 0; j < textCount; j++) {
    const image = textToImage[j];
    if (!Number.isInteger(image) || image < 0 || image >= imageCount) {
      throw new Llm2ClipError('E_DATA', `textToImage[${j}] = ${image} is not an image index in [0, ${imageCount})`, {
        field: 'textToImage',
      });
    }
    owner[j] = image;
    captionsPerImage[image + 1]++;
  }
  // CSR layout: the texts of image i are positives[start[i] … start[i + 1]), in text order.
  const start = captionsPerImage;
  for (let i = 0; i < imageCount; i++) start[i + 1] += start[i];
  const positives = new Int32Array(textCount);
  const fill = start.slice(0, imageCount);
  for (let j = 0; j < textCount; j++) positives[fill[owner[j]]++] = j;

  const a = prepareEmbeddings(images, 'images', options.assumeNormalized);
  const b = prepareEmbeddings(texts, 'texts', options.assumeNormalized);

  // The score of each text with its own image (dotRows sums in the same order as the block
  // kernels, so the values equal the block values).
  const targetScore = new Float32Array(textCount);
  for (let j = 0; j < textCount; j++) targetScore[j] = dotRows(a, owner[j], b, j);

  const i2t = new Int32Array(imageCount);
  const t2iBefore = new Int32Array(textCount);
  const blockRows = resolveBlockRows(options.blockRows, textCount);
  const block = new Float32Array(Math.min(blockRows, imageCount) * textCount);
  const fillBlock = blockFiller(a, b, Math.min(blockRows, imageCount), options.kernel);
  for (let rowStart = 0; rowStart < imageCount; rowStart += blockRows) {
    const rowCount = Math.min(blockRows, imageCount - rowStart);
    fillBlock(rowStart, rowCount, block);
    for (let r = 0; r < rowCount; r++) {
      const image = rowStart + r;
      const offset = r * textCount;
      const first = start[image];
      const last = start[image + 1];
      if (first === last) {
        for (let j = 0; j < textCount; j++) {
          const score = block[offset + j];
          const target = targetScore[j];
          if (score > target || (score === target && image < owner[j])) t2iBefore[j]++;
        }
        continue;
      }
      let best = positives[first];
      let bestScore = block[offset + best];
      for (let p = first + 1; p < last; p++) {
        const candidate = positives[p];
        const score = block[offset + candidate];
        if (score > bestScore) {
          best = candidate;
          bestScore = score;
        }
      }
      let before = 0;
      for (let j = 0; j < textCount; j++) {
        const score = block[offset + j];
        if (score > bestScore || (score === bestScore && j < best)) before++;
        const target = targetScore[j];
        if (score > target || (score === target && image < owner[j])) t2iBefore[j]++;
      }
      i2t[image] = before + 1;
    }
    options.onProgress?.({ task: 'rank', done: rowStart + rowCount, total: imageCount, unit: 'image' });
  }
  const t2i = new Int32Array(textCount);
  for (let j = 0; j < textCount; j++) t2i[j] = t2iBefore[j] + 1;
  return { i2t, t2i };
}

/**
 * Summarises 1-based ranks into recall at each k, mean rank and median rank (see
 * {@link DirectionMetrics}). Entries equal to `0` (queries without a correct item) are skipped.
 *
 * @throws Llm2ClipError `E_CONFIG` for bad `ks`, `E_DATA` when no rank is left.
 */
export function summarizeRanks(ranks: ArrayLike<number>, ks: readonly number[] = DEFAULT_KS): DirectionMetrics {
  const cutoffs = resolveKs(ks);
  const kept: number[] = [];
  for (let q = 0; q < ranks.length; q++) {
    const rank = ranks[q];
    if (rank === 0) continue;
    if (!Number.isInteger(rank) || rank < 0) {
      throw new Llm2ClipError('E_DATA', `rank ${rank} at position ${q} is not a positive integer`, { field: 'ranks' });
    }
    kept.push(rank);
  }
  if (kept.length === 0) throw new Llm2ClipError('E_DATA', 'no ranks to summarise', { field: 'ranks' });
  const sorted = Int32Array.from(kept).sort();
  const result: Record<string, number> = {};
  for (const k of cutoffs) {
    // sorted ascending: the hits at k are the ranks <= k
    let hits = 0;
    while (hits < sorted.length && sorted[hits] <= k) hits++;
    result[`r${k}`] = hits / sorted.length;
  }
  let sum = 0;
  for (const rank of sorted) sum += rank;
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return {
    ...result,
    meanRank: sum / sorted.length,
    medianRank: Math.floor(median),
    queries: sorted.length,
  } as DirectionMetrics;
}

/** Builds {@link RetrievalMetrics} from ranks computed by {@link retrievalRanks}. */
export function metricsFromRanks(ranks: RetrievalRanks, ks: readonly number[] = DEFAULT_KS): RetrievalMetrics {
  const cutoffs = resolveKs(ks);
  let imagesWithoutTexts = 0;
  for (const rank of ranks.i2t) if (rank === 0) imagesWithoutTexts++;
  return {
    ks: cutoffs,
    i2t: summarizeRanks(ranks.i2t, cutoffs),
    t2i: summarizeRanks(ranks.t2i, cutoffs),
    counts: { images: ranks.i2t.length, texts: ranks.t2i.length, imagesWithoutTexts },
  };
}

/**
 * Image→text and text→image retrieval metrics (R@k, mean and median rank) of `images` and
 * `texts`, where text `j` describes image `textToImage[j]`; an image may have several texts.
 * 1:1 long-caption retrieval is the case `textToImage[i] = i`.
 *
 * @example
 * ```ts
 * const metrics = retrievalMetrics(imageEmbeddings, captionEmbeddings, captionImage, { ks: [1, 5] });
 * metrics.t2i.r1; // fraction of captions whose image ranks first
 * ```
 * @throws Llm2ClipError see {@link retrievalRanks}.
 */
export function retrievalMetrics(
  images: EmbeddingMatrix,
  texts: EmbeddingMatrix,
  textToImage: Int32Array | readonly number[],
  options: RetrievalOptions = {},
): RetrievalMetrics {
  const ks = resolveKs(options.ks ?? DEFAULT_KS);
  return metricsFromRanks(retrievalRanks(images, texts, textToImage, options), ks);
}

/** Checks recall cut-offs (positive integers, at least one) and drops duplicates. @internal */
export function resolveKs(ks: readonly number[]): number[] {
  if (ks.length === 0) throw new Llm2ClipError('E_CONFIG', 'ks must name at least one k', { field: 'ks' });
  const seen = new Set<number>();
  for (const k of ks) {
    if (!Number.isInteger(k) || k < 1) throw new Llm2ClipError('E_CONFIG', `ks must hold positive integers, got ${k}`, { field: 'ks' });
    seen.add(k);
  }
  return [...seen];
}

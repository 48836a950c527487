import {
  Llm2ClipError,
  concatRows,
  embeddingMatrix,
  type EmbeddingMatrix,
  type ImageEmbedder,
  type ImageRef,
  type ModelDescription,
  type ProgressCallback,
  type Sample,
  type TextEmbedder,
} from '@llm2clip/core';
import { ALL_CAPTIONS, resolveCaptionSelector, type CaptionSelector } from './caption-selector.js';
import { embedBatch, embedInChunks, resolveBatchSize } from './embed-in-chunks.js';
import { metricsFromRanks, resolveKs, retrievalRanks, DEFAULT_KS, type RetrievalMetrics, type RetrievalRanks } from './retrieval.js';

/** Options shared by {@link evaluateRetrieval} and {@link evaluateRetrievalByKind}. */
export interface RetrievalEvaluationBase {
  /** Embeds the captions. */
  textEmbedder: TextEmbedder;
  /** Embeds the images; must have the same `dim` as `textEmbedder`. */
  imageEmbedder: ImageEmbedder;
  /** The evaluation set, e.g. an array or a `SampleSource`. Streamed: images are embedded as they arrive. */
  samples: Iterable<Sample> | AsyncIterable<Sample>;
  /** Recall cut-offs. Default `[1, 5, 10]`. */
  ks?: readonly number[];
  /** Inputs per `embed` call (also passed to the embedder as its batch size). Default 64. */
  batchSize?: number;
  /**
   * Keep images that have no selected caption in the gallery as text→image distractors. Default
   * `false`: the gallery of a caption kind is the images with at least one caption of that kind.
   */
  keepImagesWithoutCaptions?: boolean;
  /** Image rows per similarity block (memory/speed trade-off); see `SimilarityOptions.blockRows`. */
  blockRows?: number;
  /**
   * Progress: `embed-images` (unit `image`), `embed-texts:<kind>` (unit `caption`) and
   * `rank:<kind>` (unit `image`) events.
   */
  onProgress?: ProgressCallback;
}

/** Options of {@link evaluateRetrieval}. */
export interface EvaluateRetrievalOptions extends RetrievalEvaluationBase {
  /** Which captions to evaluate. Default: all captions ({@link ALL_CAPTIONS}). */
  captionKind?: CaptionSelector;
}

/** Options of {@link evaluateRetrievalByKind}. */
export interface EvaluateRetrievalByKindOptions extends RetrievalEvaluationBase {
  /** The caption selections to evaluate, each against the same image embeddings; names must differ. */
  kinds: readonly CaptionSelector[];
}

/** Outcome of one retrieval evaluation (one caption kind). */
export interface RetrievalResult {
  /** Name of the caption selection (`'short'`, `'long'`, `'all'`, `'custom'`, …). */
  readonly captionKind: string;
  /** The metrics; recalls are fractions in [0, 1]. */
  readonly metrics: RetrievalMetrics;
  /** The embedders evaluated. */
  readonly models: { readonly text: ModelDescription; readonly image: ModelDescription };
  /** Keys of the gallery images, in row order (`ranks.i2t` follows it). */
  readonly imageKeys: readonly string[];
  /** Per caption (in sample order, then caption order) the gallery row of its image (`ranks.t2i` follows it). */
  readonly textToImage: Int32Array;
  /** The per-query ranks, for error analysis. */
  readonly ranks: RetrievalRanks;
  /** Samples read that are not in this gallery (no caption of this kind and not kept). */
  readonly skippedSamples: number;
}

/**
 * Embeds the images of `samples` once and the selected captions, then computes image→text and
 * text→image retrieval metrics (see {@link RetrievalMetrics}). Every selected caption is a text
 * query; an image with several selected captions is an image→text hit when any of them ranks in
 * the top k.
 *
 * @example
 * ```ts
 * const short = await evaluateRetrieval({ textEmbedder, imageEmbedder, samples, captionKind: 'short' });
 * console.log(short.metrics.t2i.r1, short.metrics.i2t.r5);
 * ```
 * @throws Llm2ClipError `E_SHAPE` when the embedders' dims differ or an embedder returns a wrong
 *   shape, `E_DATA` when no sample has a selected caption or kinds are unknown.
 */
export async function evaluateRetrieval(options: EvaluateRetrievalOptions): Promise<RetrievalResult> {
  const selector = options.captionKind ?? ALL_CAPTIONS;
  const results = await evaluateRetrievalByKind({ ...options, kinds: [selector] });
  return Object.values(results)[0];
}

/**
 * Like {@link evaluateRetrieval} for several caption selections at once (e.g. `['short', 'long']`):
 * the images are embedded only once, each selection's captions once. Results are keyed by
 * selection name.
 *
 * @throws Llm2ClipError `E_CONFIG` for an empty `kinds` or duplicate names, otherwise as
 *   {@link evaluateRetrieval} (a kind with no caption in any sample is `E_DATA`).
 */
export async function evaluateRetrievalByKind(
  options: EvaluateRetrievalByKindOptions,
): Promise<Record<string, RetrievalResult>> {
  const { textEmbedder, imageEmbedder } = options;
  if (textEmbedder.dim !== imageEmbedder.dim) {
    throw new Llm2ClipError(
      'E_SHAPE',
      `text embedder dim ${textEmbedder.dim} differs from image embedder dim ${imageEmbedder.dim}`,
      { field: 'imageEmbedder' },
    );
  }
  if (options.kinds.length === 0) throw new Llm2ClipError('E_CONFIG', 'kinds must name at least one caption kind', { field: 'kinds' });
  const selectors = options.kinds.map(resolveCaptionSelector);
  const names = new Set<string>();
  for (const selector of selectors) {
    if (names.has(selector.name)) {
      throw new Llm2ClipError('E_CONFIG', `caption kind '${selector.name}' is listed twice`, { field: 'kinds' });
    }
    names.add(selector.name);
  }
  const batchSize = resolveBatchSize(options.batchSize);
  const keepAll = options.keepImagesWithoutCaptions ?? false;
  const ks = resolveKs(options.ks ?? DEFAULT_KS);
  const progress = options.onProgress;
  const total = sampleCount(options.samples);

  // One pass over the samples: images are embedded batch by batch (and then dropped), the
  // selected captions are remembered per kind with the row of their image.
  const perKind = selectors.map(() => ({ captions: [] as string[], imageRows: [] as number[], gallery: [] as number[] }));
  const imageKeys: string[] = [];
  const imageParts: EmbeddingMatrix[] = [];
  let pending: ImageRef[] = [];
  let samplesRead = 0;
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    imageParts.push(await embedBatch(imageEmbedder, pending, batchSize, 'image embedder'));
    pending = [];
    progress?.({ task: 'embed-images', done: imageKeys.length, total, unit: 'image' });
  };
  for await (const sample of options.samples) {
    samplesRead++;
    const picks = selectors.map((selector) => selector.select(sample));
    if (!keepAll && picks.every((picked) => picked.length === 0)) continue;
    const row = imageKeys.length;
    imageKeys.push(sample.key);
    pending.push(sample.image);
    picks.forEach((picked, kind) => {
      const entry = perKind[kind];
      if (picked.length === 0 && !keepAll) return;
      entry.gallery.push(row);
      for (const index of picked) {
        entry.captions.push(sample.captions[index]);
        entry.imageRows.push(row);
      }
    });
    if (pending.length >= batchSize) await flush();
  }
  await flush();
  const images = imageParts.length > 0 ? concatRows(imageParts) : embeddingMatrix(0, imageEmbedder.dim, new Float32Array(0));

  const models = { text: textEmbedder.describe(), image: imageEmbedder.describe() };
  const results: Record<string, RetrievalResult> = {};
  for (let kind = 0; kind < selectors.length; kind++) {
    const name = selectors[kind].name;
    const { captions, imageRows, gallery } = perKind[kind];
    if (captions.length === 0) {
      throw new Llm2ClipError('E_DATA', `no caption of kind '${name}' in ${samplesRead} samples`, { field: 'captionKind' });
    }
    // Map embedded-image rows to this kind's gallery rows.
    const galleryRow = new Int32Array(images.rows).fill(-1);
    gallery.forEach((row, position) => (galleryRow[row] = position));
    const textToImage = Int32Array.from(imageRows, (row) => galleryRow[row]);
    const galleryImages = gallery.length === images.rows ? images : selectRows(images, gallery);
    const texts = await embedInChunks(textEmbedder, captions, {
      batchSize,
      onProgress: progress,
      task: `embed-texts:${name}`,
      unit: 'caption',
      label: 'text embedder',
    });
    const ranks = retrievalRanks(galleryImages, texts, textToImage, {
      blockRows: options.blockRows,
      onProgress: progress === undefined ? undefined : (event) => progress({ ...event, task: `rank:${name}` }),
    });
    results[name] = {
      captionKind: name,
      metrics: metricsFromRanks(ranks, ks),
      models,
      imageKeys: gallery.map((row) => imageKeys[row]),
      textToImage,
      ranks,
      skippedSamples: samplesRead - gallery.length,
    };
  }
  return results;
}

function selectRows(matrix: EmbeddingMatrix, rows: readonly number[]): EmbeddingMatrix {
  const data = new Float32Array(rows.length * matrix.dim);
  rows.forEach((row, position) => data.set(matrix.data.subarray(row * matrix.dim, (row + 1) * matrix.dim), position * matrix.dim));
  return embeddingMatrix(rows.length, matrix.dim, data);
}

function sampleCount(samples: Iterable<Sample> | AsyncIterable<Sample>): number | undefined {
  if (Array.isArray(samples)) return samples.length;
  const size = (samples as { size?: unknown }).size;
  return typeof size === 'number' ? size : undefined;
}

import {
  Llm2ClipError,
  type EmbeddingMatrix,
  type ModelDescription,
  type ProgressCallback,
  type Sample,
  type TextEmbedder,
} from '@llm2clip/core';
import { embedInChunks } from './embed-in-chunks.js';
import { retrievalRanks } from './retrieval.js';
import type { SimilarityOptions } from './similarity.js';

/** Caption retrieval accuracy, in percent (0–100). */
export interface CraScores {
  /** Percent of queries (caption 1) whose top-1 gallery caption (by cosine) is their own caption 2. */
  readonly queryToGallery: number;
  /** Percent of gallery captions (caption 2) whose top-1 query caption is their own caption 1. */
  readonly galleryToQuery: number;
  /** Mean of the two directions: the CRA number. */
  readonly cra: number;
}

/** Result of {@link evaluateCra}: the scores plus what they were computed on. */
export interface CraResult extends CraScores {
  /** Number of caption pairs (queries = gallery size). */
  readonly pairs: number;
  /** The text embedder evaluated. */
  readonly model: ModelDescription;
}

/**
 * Caption retrieval accuracy (CRA) as LLM2CLIP uses it to measure how well a text embedder
 * separates captions. Protocol:
 *
 * 1. For each of N images take its first two captions: caption 1 goes to the queries, caption 2
 *    to the gallery, so `queries[i]` and `gallery[i]` describe the same image.
 * 2. Score every query against every gallery caption by cosine similarity.
 * 3. `queryToGallery` = percent of queries `i` whose top-1 gallery caption is `gallery[i]`;
 *    `galleryToQuery` = percent of gallery captions `i` whose top-1 query is `queries[i]`.
 * 4. `cra` = the mean of the two, in percent.
 *
 * Top-1 uses this package's tie rule (equal scores go to the lower index), so an exact tie with
 * an earlier caption counts as a miss for later pairs.
 *
 * @throws Llm2ClipError `E_SHAPE` when the matrices differ in rows or dim, `E_DATA` when empty.
 */
export function captionRetrievalAccuracy(
  queries: EmbeddingMatrix,
  gallery: EmbeddingMatrix,
  options: SimilarityOptions = {},
): CraScores {
  if (queries.rows !== gallery.rows) {
    throw new Llm2ClipError('E_SHAPE', `CRA needs paired captions: ${queries.rows} queries vs ${gallery.rows} gallery rows`, {
      field: 'gallery',
    });
  }
  const identity = new Int32Array(queries.rows);
  for (let i = 0; i < identity.length; i++) identity[i] = i;
  // "images" = queries, "texts" = gallery: i2t ranks answer query→gallery, t2i ranks gallery→query.
  const ranks = retrievalRanks(queries, gallery, identity, options);
  let queryHits = 0;
  for (const rank of ranks.i2t) if (rank === 1) queryHits++;
  let galleryHits = 0;
  for (const rank of ranks.t2i) if (rank === 1) galleryHits++;
  const queryToGallery = (100 * queryHits) / queries.rows;
  const galleryToQuery = (100 * galleryHits) / gallery.rows;
  return { queryToGallery, galleryToQuery, cra: (queryToGallery + galleryToQuery) / 2 };
}

/** Options of {@link evaluateCra}. */
export interface EvaluateCraOptions extends SimilarityOptions {
  /** Captions per `embed` call (and the embedder's batch size). Default 64. */
  batchSize?: number;
  /** Receives `{ task: 'embed-texts', unit: 'caption' }` events. */
  onProgress?: ProgressCallback;
}

/**
 * Embeds both captions of every pair with `textEmbedder` and computes the
 * {@link captionRetrievalAccuracy} (protocol there). `captionPairs[i]` = (caption 1, caption 2)
 * of image i; see {@link craCaptionPairs} to build them from samples.
 *
 * @throws Llm2ClipError `E_DATA` when there are no pairs, `E_SHAPE` when the embedder returns a
 *   matrix of the wrong shape.
 */
export async function evaluateCra(
  textEmbedder: TextEmbedder,
  captionPairs: readonly (readonly [string, string])[],
  options: EvaluateCraOptions = {},
): Promise<CraResult> {
  if (captionPairs.length === 0) throw new Llm2ClipError('E_DATA', 'CRA needs at least one caption pair', { field: 'captionPairs' });
  const texts = [...captionPairs.map((pair) => pair[0]), ...captionPairs.map((pair) => pair[1])];
  const embedded = await embedInChunks(textEmbedder, texts, {
    batchSize: options.batchSize,
    onProgress: options.onProgress,
    task: 'embed-texts',
    unit: 'caption',
    label: 'text embedder',
  });
  const n = captionPairs.length;
  const dim = embedded.dim;
  const queries = { rows: n, dim, data: embedded.data.subarray(0, n * dim) };
  const gallery = { rows: n, dim, data: embedded.data.subarray(n * dim) };
  const similarity = { blockRows: options.blockRows, assumeNormalized: options.assumeNormalized };
  return { ...captionRetrievalAccuracy(queries, gallery, similarity), pairs: n, model: textEmbedder.describe() };
}

/**
 * The CRA caption pairs of `samples`: the first two captions of each sample, in sample order.
 * Samples with fewer than two captions are skipped (their count is returned).
 */
export async function craCaptionPairs(
  samples: Iterable<Sample> | AsyncIterable<Sample>,
): Promise<{ pairs: [string, string][]; skipped: number }> {
  const pairs: [string, string][] = [];
  let skipped = 0;
  for await (const sample of samples) {
    if (sample.captions.length < 2) skipped++;
    else pairs.push([sample.captions[0], sample.captions[1]]);
  }
  return { pairs, skipped };
}

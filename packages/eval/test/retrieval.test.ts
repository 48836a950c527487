import { describe, expect, it } from 'vitest';
import { embeddingMatrix, isLlm2ClipError, type EmbeddingMatrix } from '@llm2clip/core';
import { cosineSimilarity, metricsFromRanks, retrievalMetrics, retrievalRanks, summarizeRanks } from '../src/index.js';
import { randomRows, rows } from './toy-embedders.js';

function errorOf(fn: () => unknown): { code: string; message: string } | undefined {
  try {
    fn();
  } catch (error) {
    if (isLlm2ClipError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  return undefined;
}

/**
 * Ranks by brute force from the full similarity matrix: sort every row/column by
 * (score desc, index asc) and find the (best) correct item.
 */
function bruteForceRanks(images: EmbeddingMatrix, texts: EmbeddingMatrix, textToImage: readonly number[]) {
  const sim = cosineSimilarity(images, texts);
  const order = (scores: number[]): number[] => scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const i2t = Array.from({ length: images.rows }, (_, i) => {
    const row = Array.from(sim.data.subarray(i * texts.rows, (i + 1) * texts.rows));
    const position = order(row).findIndex((j) => textToImage[j] === i);
    return position + 1; // 0 when the image has no text
  });
  const t2i = textToImage.map((image, j) => {
    const column = Array.from({ length: images.rows }, (_, i) => sim.data[i * texts.rows + j]);
    return order(column).indexOf(image) + 1;
  });
  return { i2t, t2i };
}

describe('retrieval metrics on a hand-computed case', () => {
  // Unit vectors whose cosines are the coordinates of the texts:
  //            T0=(1,0)  T1=(.6,.8)  T2=(.8,.6)  T3=(0,-1)  T4=(-.96,.28)
  // I0=(1,0)      1         .6          .8          0          -.96
  // I1=(0,1)      0         .8          .6         -1           .28
  // I2=(-1,0)    -1        -.6         -.8          0 (tie)     .96
  const images = rows([[1, 0], [0, 1], [-1, 0]]);
  const texts = rows([[1, 0], [0.6, 0.8], [0.8, 0.6], [0, -1], [-0.96, 0.28]]);
  // I0 has two captions (T0, T2), I2 has two (T1, T3), I1 one (T4).
  const textToImage = [0, 2, 0, 2, 1];

  it('ranks the correct image of every text (text→image), ties to the lower image index', () => {
    const ranks = retrievalRanks(images, texts, textToImage);
    // T0→I0 first; T1→I2 last of 3; T2→I0 first; T3→I2 ties with I0 at 0 and I0 wins; T4→I1 behind I2.
    expect(Array.from(ranks.t2i)).toEqual([1, 3, 1, 2, 2]);
  });

  it('ranks the best caption of every image (image→text)', () => {
    const ranks = retrievalRanks(images, texts, textToImage);
    // I0: T0 is top → 1. I1: T4 (.28) behind T1 (.8) and T2 (.6) → 3.
    // I2: best caption T3 (0) behind T4 (.96) → 2 (T1 at −.6 does not count).
    expect(Array.from(ranks.i2t)).toEqual([1, 3, 2]);
  });

  it('turns the ranks into R@k, mean and median rank in both directions', () => {
    const metrics = retrievalMetrics(images, texts, Int32Array.from(textToImage), { ks: [1, 2, 5] });
    expect(metrics.ks).toEqual([1, 2, 5]);
    expect(metrics.t2i).toEqual({ r1: 2 / 5, r2: 4 / 5, r5: 1, meanRank: 9 / 5, medianRank: 2, queries: 5 });
    expect(metrics.i2t).toEqual({ r1: 1 / 3, r2: 2 / 3, r5: 1, meanRank: 2, medianRank: 2, queries: 3 });
    expect(metrics.counts).toEqual({ images: 3, texts: 5, imagesWithoutTexts: 0 });
  });

  it('uses ks [1, 5, 10] by default', () => {
    const metrics = retrievalMetrics(images, texts, textToImage);
    expect(metrics.ks).toEqual([1, 5, 10]);
    expect(Object.keys(metrics.i2t).sort()).toEqual(['meanRank', 'medianRank', 'queries', 'r1', 'r10', 'r5']);
    expect(metrics.i2t.r10).toBe(1);
  });
});

describe('tie convention', () => {
  it('text→image: identical images rank by lower index', () => {
    const images = rows([[1, 0], [1, 0], [0, 1]]);
    const texts = rows([[1, 0], [1, 0.1]]);
    // Both texts score I0 and I1 equally; the text of I1 loses the tie to I0.
    expect(Array.from(retrievalRanks(images, texts, [1, 0]).t2i)).toEqual([2, 1]);
  });

  it('image→text: a caption tied with an earlier non-matching caption ranks second', () => {
    const images = rows([[1, 0], [0, 1]]);
    const texts = rows([[1, 0], [1, 0], [0, 1]]);
    // I0's caption is T1, identical to T0 (a caption of I1): rank 2. Swapped ownership: rank 1.
    expect(retrievalRanks(images, texts, [1, 0, 1]).i2t[0]).toBe(2);
    expect(retrievalRanks(images, texts, [0, 1, 1]).i2t[0]).toBe(1);
  });

  it('image→text: tied captions of the same image count once', () => {
    const images = rows([[1, 0], [0, 1]]);
    const texts = rows([[0.5, 0.5], [1, 0], [1, 0]]);
    expect(retrievalRanks(images, texts, [1, 0, 0]).i2t[0]).toBe(1);
  });

  it('agrees with a brute-force sort on quantised random data full of ties, for any block size', () => {
    const images = randomRows(29, 4, 21, [-1, 0, 1]);
    const texts = randomRows(61, 4, 22, [-1, 0, 1]);
    const textToImage = Array.from({ length: 61 }, (_, j) => (j * 7) % 27); // images 27, 28 have no text
    const expected = bruteForceRanks(images, texts, textToImage);
    for (const blockRows of [1, 4, 5, 29, undefined]) {
      const ranks = retrievalRanks(images, texts, textToImage, { blockRows });
      expect(Array.from(ranks.i2t)).toEqual(expected.i2t);
      expect(Array.from(ranks.t2i)).toEqual(expected.t2i);
    }
  });

  it('agrees with a brute-force sort on continuous random data', () => {
    const images = randomRows(40, 16, 31);
    const texts = randomRows(90, 16, 32);
    const textToImage = Array.from({ length: 90 }, (_, j) => Math.floor(j / 2.25));
    const expected = bruteForceRanks(images, texts, textToImage);
    const ranks = retrievalRanks(images, texts, textToImage, { blockRows: 7 });
    expect(Array.from(ranks.i2t)).toEqual(expected.i2t);
    expect(Array.from(ranks.t2i)).toEqual(expected.t2i);
  });
});

describe('special cases', () => {
  it('1:1 long-caption retrieval: textToImage[i] = i', () => {
    const images = rows([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]]);
    const texts = rows([[1, 0, 0], [0, 1, 0], [0, 0.1, 1], [0.9, 1, 0]]);
    const metrics = retrievalMetrics(images, texts, [0, 1, 2, 3], { ks: [1] });
    // T1=(0,1,0) prefers I1 (1) over I3 (.707): rank 1; I1's row: T1 (1) vs T3 (.74) → rank 1.
    // T3=(.9,1,0): I3 cos .997 first. All perfect.
    expect(metrics.t2i.r1).toBe(1);
    expect(metrics.i2t.r1).toBe(1);
    const swapped = retrievalMetrics(images, texts, [0, 1, 3, 2], { ks: [1, 4] });
    // T2 (≈I2) now claims I3, which it ranks 3rd; T3 (≈I3) claims I2, which it ranks 4th.
    expect(swapped.t2i.r1).toBe(0.5);
    expect(swapped.t2i.r4).toBe(1);
  });

  it('images without texts stay in the text→image gallery but are not image→text queries', () => {
    const images = rows([[1, 0], [0, 1], [0.9, 0.1]]);
    const texts = rows([[1, 0], [0, 1]]);
    const metrics = retrievalMetrics(images, texts, [0, 1], { ks: [1] });
    expect(metrics.counts).toEqual({ images: 3, texts: 2, imagesWithoutTexts: 1 });
    expect(metrics.i2t.queries).toBe(2);
    expect(retrievalRanks(images, texts, [0, 1]).i2t[2]).toBe(0);
    // I2 is a distractor for T0 but scores lower than I0
    expect(metrics.t2i.r1).toBe(1);
  });

  it('median rank follows open_clip: floor of the median, which averages the middle pair', () => {
    expect(summarizeRanks([1, 2, 4, 7], [1]).medianRank).toBe(3);
    expect(summarizeRanks([6, 1, 3, 2], [1]).medianRank).toBe(2); // median 2.5
    expect(summarizeRanks([5, 1, 9], [1]).medianRank).toBe(5);
    expect(summarizeRanks([1, 2, 4, 7], [1, 2, 3]).meanRank).toBe(3.5);
    expect(summarizeRanks([1, 2, 4, 7], [1, 2, 3])).toMatchObject({ r1: 0.25, r2: 0.5, r3: 0.5 });
  });

  it('metricsFromRanks skips images without texts', () => {
    const metrics = metricsFromRanks({ i2t: Int32Array.from([1, 0, 3]), t2i: Int32Array.from([1, 2]) }, [1]);
    expect(metrics.i2t).toEqual({ r1: 0.5, meanRank: 2, medianRank: 2, queries: 2 });
    expect(metrics.counts.imagesWithoutTexts).toBe(1);
  });

  it('rejects bad input with named codes', () => {
    const images = rows([[1, 0], [0, 1]]);
    const texts = rows([[1, 0]]);
    expect(errorOf(() => retrievalRanks(images, texts, [0, 1]))).toMatchObject({ code: 'E_SHAPE', message: expect.stringContaining('textToImage') });
    expect(errorOf(() => retrievalRanks(images, texts, [2]))).toMatchObject({ code: 'E_DATA', message: expect.stringContaining('textToImage[0] = 2') });
    expect(errorOf(() => retrievalRanks(images, rows([[1, 0, 0]]), [0]))).toMatchObject({ code: 'E_SHAPE' });
    expect(errorOf(() => retrievalMetrics(images, texts, [0], { ks: [0] }))).toMatchObject({ code: 'E_CONFIG' });
    expect(errorOf(() => retrievalMetrics(images, texts, [0], { ks: [] }))).toMatchObject({ code: 'E_CONFIG' });
    expect(errorOf(() => retrievalRanks(embeddingMatrix(0, 2, new Float32Array(0)), texts, [0]))).toMatchObject({ code: 'E_DATA' });
  });

  it('reports progress per block of images', () => {
    const events: number[] = [];
    retrievalRanks(randomRows(10, 3, 1), randomRows(5, 3, 2), [0, 1, 2, 3, 4], {
      blockRows: 4,
      onProgress: (event) => events.push(event.done),
    });
    expect(events).toEqual([4, 8, 10]);
  });
});

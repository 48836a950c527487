import { describe, expect, it } from 'vitest';
import { isLlm2ClipError } from '@llm2clip/core';
import { captionRetrievalAccuracy, craCaptionPairs, evaluateCra } from '../src/index.js';
import { BagOfWordsTextEmbedder, rows, toySample } from './toy-embedders.js';

describe('caption retrieval accuracy', () => {
  it('scores both directions on hand-made vectors', () => {
    // cos(query i, gallery j):      G0=(1,0)  G1=(.8,.6)  G2=(0,1)
    //                    Q0=(1,0)      1        .8          0      → G0 ✓
    //                    Q1=(0,1)      0        .6          1      → G2 ✗
    //                    Q2=(-1,0)    -1       -.8          0      → G2 ✓
    // columns: G0 → Q0 ✓; G1 → Q0 (.8) ✗; G2 → Q1 (1) ✗
    const queries = rows([[1, 0], [0, 1], [-1, 0]]);
    const gallery = rows([[1, 0], [0.8, 0.6], [0, 1]]);
    const result = captionRetrievalAccuracy(queries, gallery);
    expect(result.queryToGallery).toBeCloseTo(200 / 3, 10);
    expect(result.galleryToQuery).toBeCloseTo(100 / 3, 10);
    expect(result.cra).toBeCloseTo(50, 10);
  });

  it('counts an exact tie with an earlier caption as a miss', () => {
    const same = rows([[1, 0], [1, 0]]);
    expect(captionRetrievalAccuracy(same, same)).toEqual({ queryToGallery: 50, galleryToQuery: 50, cra: 50 });
  });

  it('is 100 when every caption pair is closest to itself', () => {
    const queries = rows([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    const gallery = rows([[2, 0.1, 0], [0, 3, 1], [0.2, 0, 1]]);
    expect(captionRetrievalAccuracy(queries, gallery, { blockRows: 1 })).toEqual({ queryToGallery: 100, galleryToQuery: 100, cra: 100 });
  });

  it('rejects unpaired matrices with E_SHAPE', () => {
    try {
      captionRetrievalAccuracy(rows([[1, 0]]), rows([[1, 0], [0, 1]]));
      expect.unreachable();
    } catch (error) {
      expect(isLlm2ClipError(error, 'E_SHAPE')).toBe(true);
    }
  });

  it('evaluates a text embedder on caption pairs', async () => {
    const embedder = new BagOfWordsTextEmbedder();
    const pairs: [string, string][] = [
      ['a red circle', 'small red circle'],
      ['a green square', 'big green square'],
      ['a blue triangle', 'a green triangle'],
    ];
    // Q2 (blue, triangle) · G1 (big, green, square) = 0 and · G2 (green, triangle) = .5 → ✓
    // Column G2 (green, triangle): Q1 (green, square) .5 ties Q2 .5; Q1 has the lower index → ✗
    const progress: number[] = [];
    const result = await evaluateCra(embedder, pairs, { batchSize: 4, onProgress: (event) => progress.push(event.done) });
    expect(result.pairs).toBe(3);
    expect(result.queryToGallery).toBe(100);
    expect(result.galleryToQuery).toBeCloseTo(200 / 3, 10);
    expect(result.cra).toBeCloseTo(250 / 3, 10);
    expect(result.model.name).toBe('bag-of-words');
    expect(progress).toEqual([4, 6]);
    expect(embedder.calls).toBe(2);
  });

  it('takes the first two captions of each sample and skips samples with fewer', async () => {
    const samples = [
      toySample('a', 'red', 'circle', 'a red circle', 'a small red circle'),
      { ...toySample('b', 'blue', 'square', 'a blue square', ''), captions: ['only one'] },
      { ...toySample('c', 'green', 'triangle', 'x', 'y'), captions: ['one', 'two', 'three'] },
    ];
    const { pairs, skipped } = await craCaptionPairs(samples);
    expect(pairs).toEqual([
      ['a red circle', 'a small red circle'],
      ['one', 'two'],
    ]);
    expect(skipped).toBe(1);
  });
});

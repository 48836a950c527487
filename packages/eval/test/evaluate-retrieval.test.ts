import { describe, expect, it } from 'vitest';
import { embeddingMatrix, isLlm2ClipError, type ProgressEvent, type Sample, type TextEmbedder } from '@llm2clip/core';
import { evaluateRetrieval, evaluateRetrievalByKind } from '../src/index.js';
import { BagOfWordsTextEmbedder, PixelLabelImageEmbedder, toySample } from './toy-embedders.js';

// Five coloured shapes; the colour-blind image embedder sees the green square as a red square,
// so it cannot tell s1 from s4.
const samples: Sample[] = [
  toySample('s0', 'red', 'circle', 'a red circle', 'a small red circle on a big canvas'),
  toySample('s1', 'green', 'square', 'a green square', 'a big green square'),
  toySample('s2', 'blue', 'triangle', 'a blue triangle', 'a small blue triangle'),
  toySample('s3', 'yellow', 'circle', 'a yellow circle', 'a big yellow circle'),
  toySample('s4', 'red', 'square', 'a red square', 'a small red square'),
];

async function* streamed(items: readonly Sample[]): AsyncGenerator<Sample> {
  for (const item of items) yield item;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    // messages start with the code in brackets: keep the rest
    return isLlm2ClipError(error) ? `${error.code}: ${error.message.replace(/^\[\w+\] /, '')}` : `not Llm2ClipError: ${String(error)}`;
  }
  return 'no error';
}

describe('evaluateRetrieval', () => {
  it('gives perfect scores when both embedders see everything', async () => {
    const result = await evaluateRetrieval({
      textEmbedder: new BagOfWordsTextEmbedder(),
      imageEmbedder: new PixelLabelImageEmbedder(),
      samples,
      captionKind: 'short',
    });
    expect(result.captionKind).toBe('short');
    expect(result.metrics.i2t).toEqual({ r1: 1, r5: 1, r10: 1, meanRank: 1, medianRank: 1, queries: 5 });
    expect(result.metrics.t2i).toEqual({ r1: 1, r5: 1, r10: 1, meanRank: 1, medianRank: 1, queries: 5 });
    expect(result.imageKeys).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(Array.from(result.textToImage)).toEqual([0, 1, 2, 3, 4]);
    expect(result.models.image.name).toBe('pixel-label');
  });

  it('gives the hand-computed numbers for a colour-blind image embedder', async () => {
    const result = await evaluateRetrieval({
      textEmbedder: new BagOfWordsTextEmbedder(),
      imageEmbedder: new PixelLabelImageEmbedder(true),
      samples,
      captionKind: 'short',
      ks: [1, 2],
    });
    // Images s1 and s4 both embed as (red, square).
    // t2i: "a red square" ties s1 and s4 at cosine 1; s1 has the lower index → rank 2.
    expect(Array.from(result.ranks.t2i)).toEqual([1, 1, 1, 1, 2]);
    expect(result.metrics.t2i).toEqual({ r1: 0.8, r2: 1, meanRank: 1.2, medianRank: 1, queries: 5 });
    // i2t: image s1's row has "a red square" (1) above, and "a red circle" (.5) tied with
    // "a green square" (.5) at a lower index → rank 3.
    expect(Array.from(result.ranks.i2t)).toEqual([1, 3, 1, 1, 1]);
    expect(result.metrics.i2t).toEqual({ r1: 0.8, r2: 0.8, meanRank: 1.4, medianRank: 1, queries: 5 });
  });

  it('evaluates all captions when no kind is given: two captions per image', async () => {
    const result = await evaluateRetrieval({
      textEmbedder: new BagOfWordsTextEmbedder(),
      imageEmbedder: new PixelLabelImageEmbedder(true),
      samples: streamed(samples),
      ks: [1],
    });
    expect(result.captionKind).toBe('all');
    expect(result.metrics.counts).toEqual({ images: 5, texts: 10, imagesWithoutTexts: 0 });
    expect(Array.from(result.textToImage)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    // Texts in order: s0 short, s0 long, s1 short, s1 long, ... Only the two captions naming a red
    // square lose their tie to image s1: "a red square" and "a small red square".
    expect(Array.from(result.ranks.t2i)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 2, 2]);
    // Image s1 = (red, square): "a red square" (1) and "a small red square" (.816) beat its best
    // caption "a green square" (.5), and "a red circle" (.5) ties it at a lower index → rank 4.
    expect(Array.from(result.ranks.i2t)).toEqual([1, 4, 1, 1, 1]);
  });

  it('embeds the images once for several caption kinds', async () => {
    const images = new PixelLabelImageEmbedder(true);
    const texts = new BagOfWordsTextEmbedder();
    const events: ProgressEvent[] = [];
    const results = await evaluateRetrievalByKind({
      textEmbedder: texts,
      imageEmbedder: images,
      samples: streamed(samples),
      kinds: ['short', 'long'],
      batchSize: 2,
      ks: [1],
      onProgress: (event) => events.push(event),
    });
    expect(Object.keys(results)).toEqual(['short', 'long']);
    expect(images.embedded).toBe(5);
    expect(images.calls).toBe(3);
    expect(texts.calls).toBe(6);
    expect(results.short.metrics.t2i.r1).toBe(0.8);
    // long: "a small red square" ties s1/s4 (rank 2); image s1's best caption "a big green square"
    // (.408) is behind "a small red square" (.816) → rank 2.
    expect(Array.from(results.long.ranks.t2i)).toEqual([1, 1, 1, 1, 2]);
    expect(Array.from(results.long.ranks.i2t)).toEqual([1, 2, 1, 1, 1]);
    expect(results.long.metrics.i2t.meanRank).toBeCloseTo(1.2, 12);
    const imageEvents = events.filter((event) => event.task === 'embed-images');
    expect(imageEvents.map((event) => event.done)).toEqual([2, 4, 5]);
    expect(events.some((event) => event.task === 'embed-texts:long' && event.done === 5 && event.total === 5)).toBe(true);
    expect(events.some((event) => event.task === 'rank:short' && event.unit === 'image')).toBe(true);
  });

  it('builds each gallery from the images that have a caption of the kind, unless told to keep all', async () => {
    const mixed: Sample[] = [
      ...samples.slice(0, 3),
      { key: 'long-only', image: samples[4].image, captions: ['a small red square'], captionKinds: ['long'] },
    ];
    const base = { textEmbedder: new BagOfWordsTextEmbedder(), imageEmbedder: new PixelLabelImageEmbedder(), samples: mixed, captionKind: 'short', ks: [1] };
    const compact = await evaluateRetrieval(base);
    expect(compact.imageKeys).toEqual(['s0', 's1', 's2']);
    expect(compact.skippedSamples).toBe(1);
    const kept = await evaluateRetrieval({ ...base, keepImagesWithoutCaptions: true });
    expect(kept.imageKeys).toEqual(['s0', 's1', 's2', 'long-only']);
    expect(kept.metrics.counts).toEqual({ images: 4, texts: 3, imagesWithoutTexts: 1 });
    expect(kept.skippedSamples).toBe(0);
  });

  it('accepts a named filter as caption selector', async () => {
    const result = await evaluateRetrieval({
      textEmbedder: new BagOfWordsTextEmbedder(),
      imageEmbedder: new PixelLabelImageEmbedder(),
      samples,
      captionKind: { name: 'mentions-red', filter: (caption) => caption.includes('red') },
      ks: [1],
    });
    expect(result.captionKind).toBe('mentions-red');
    expect(result.imageKeys).toEqual(['s0', 's4']);
    expect(result.metrics.counts.texts).toBe(4);
  });

  it('fails with named errors on unusable input', async () => {
    const base = { textEmbedder: new BagOfWordsTextEmbedder(), imageEmbedder: new PixelLabelImageEmbedder() };
    const noKinds: Sample[] = [{ key: 'k1', image: samples[0].image, captions: ['a red circle'] }];
    expect(await codeOf(evaluateRetrieval({ ...base, samples: noKinds, captionKind: 'short' }))).toMatch(/^E_DATA: .*kind 'short'.*sample k1/);
    expect(await codeOf(evaluateRetrieval({ ...base, samples, captionKind: 'medium' }))).toMatch(/^E_DATA: no caption of kind 'medium' in 5 samples/);
    expect(await codeOf(evaluateRetrievalByKind({ ...base, samples, kinds: ['short', 'short'] }))).toMatch(/^E_CONFIG: .*listed twice/);
    expect(await codeOf(evaluateRetrieval({ ...base, samples, batchSize: 0 }))).toMatch(/^E_CONFIG: batchSize/);

    class ShortTextEmbedder implements TextEmbedder {
      readonly dim = 3;
      async embed(texts: readonly string[]) {
        return embeddingMatrix(texts.length, 3, new Float32Array(texts.length * 3));
      }
      describe() {
        return { name: 'three-dim', fingerprint: '0' };
      }
    }
    expect(await codeOf(evaluateRetrieval({ ...base, textEmbedder: new ShortTextEmbedder(), samples }))).toMatch(/^E_SHAPE: text embedder dim 3 differs from image embedder dim 9/);

    class DroppingTextEmbedder extends BagOfWordsTextEmbedder {
      override async embed(texts: readonly string[]) {
        return super.embed(texts.slice(1));
      }
    }
    expect(await codeOf(evaluateRetrieval({ ...base, textEmbedder: new DroppingTextEmbedder(), samples }))).toMatch(/^E_SHAPE: text embedder returned 9x9/);
  });
});

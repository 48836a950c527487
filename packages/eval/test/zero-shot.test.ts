import { describe, expect, it } from 'vitest';
import { embeddingMatrix, fingerprint, isLlm2ClipError, type EmbeddingMatrix, type TextEmbedder } from '@llm2clip/core';
import {
  averageTemplateEmbeddings,
  buildZeroShotClassifier,
  classificationMetricsFromScores,
  fillClassTemplate,
  zeroShotMetrics,
} from '../src/index.js';
import { rows } from './toy-embedders.js';

/** A text embedder that looks each prompt up in a table (2-d vectors). */
function tableEmbedder(table: Record<string, readonly [number, number]>): TextEmbedder & { prompts: string[] } {
  const prompts: string[] = [];
  return {
    dim: 2,
    prompts,
    async embed(texts): Promise<EmbeddingMatrix> {
      prompts.push(...texts);
      const data = new Float32Array(texts.length * 2);
      texts.forEach((text, row) => {
        const vector = table[text];
        if (vector === undefined) throw new Error(`no vector for ${text}`);
        data.set(vector, row * 2);
      });
      return embeddingMatrix(texts.length, 2, data);
    },
    describe: () => ({ name: 'table', fingerprint: fingerprint(table) }),
  };
}

describe('zero-shot classification on a hand-computed case', () => {
  // Per class, two templates. Each prompt vector is normalised before averaging, so the
  // length of 'the cat' (2) and 'the cow' (3) does not matter:
  //   cat: (1,0) & (0,1) → (.707, .707);  dog: (1,0) & (1,0) → (1, 0);  cow: (-1,0) & (0,-1) → (-.707, -.707)
  const table = {
    'a cat': [1, 0],
    'the cat': [0, 2],
    'a dog': [1, 0],
    'the dog': [1, 0],
    'a cow': [-1, 0],
    'the cow': [0, -3],
  } as const;
  const classNames = ['cat', 'dog', 'cow'];
  const templates = ['a {c}', 'the {c}'];

  it('averages normalised template embeddings and renormalises', async () => {
    const embedder = tableEmbedder(table);
    const classifier = await buildZeroShotClassifier(embedder, classNames, templates);
    expect(embedder.prompts).toEqual(['a cat', 'the cat', 'a dog', 'the dog', 'a cow', 'the cow']);
    const w = Array.from(classifier.weights.data);
    const h = Math.SQRT1_2;
    [h, h, 1, 0, -h, -h].forEach((value, i) => expect(w[i]).toBeCloseTo(value, 6));
  });

  it('scores acc@k, mean per-class recall and breaks ties toward the lower class index', async () => {
    const classifier = await buildZeroShotClassifier(tableEmbedder(table), classNames, templates);
    // Cosines (cat, dog, cow):
    //  I0 (1,1)  cat:  1,    .71,  -1   → rank 1
    //  I1 (1,0)  dog:  .71,  1,   -.71  → rank 1
    //  I2 (0,1)  dog:  .71,  0,   -.71  → rank 2 (predicted cat)
    //  I3 (1,-1) cow:  0,    .71,  0    → cow ties with cat at 0; cat has the lower index → rank 3 (predicted dog)
    const images = rows([[1, 1], [1, 0], [0, 1], [1, -1]]);
    const metrics = zeroShotMetrics(images, classifier, [0, 1, 1, 2], { ks: [1, 2, 5] });
    expect(Array.from(metrics.ranks)).toEqual([1, 1, 2, 3]);
    expect(Array.from(metrics.predictions)).toEqual([0, 1, 0, 1]);
    expect(metrics.accuracy.acc1).toBe(0.5);
    expect(metrics.accuracy.acc2).toBe(0.75);
    expect(metrics.accuracy.acc5).toBe(1);
    // recall: cat 1/1, dog 1/2, cow 0/1 → mean 0.5
    expect(Array.from(metrics.perClassRecall)).toEqual([1, 0.5, 0]);
    expect(metrics.meanPerClassRecall).toBe(0.5);
  });

  it('averages per-class recall over the classes present only', () => {
    // 3 classes, class 2 never appears; scores row-major images × classes.
    const scores = Float32Array.from([0.9, 0.1, 0.0, 0.2, 0.8, 0.0, 0.7, 0.3, 0.5]);
    const metrics = classificationMetricsFromScores(scores, 3, [0, 1, 1], { ks: [1] });
    expect(metrics.accuracy.acc1).toBeCloseTo(2 / 3, 12);
    expect(Number.isNaN(metrics.perClassRecall[2])).toBe(true);
    expect(metrics.meanPerClassRecall).toBe((1 + 0.5) / 2);
  });

  it('fills {c} and rejects a template without it', () => {
    expect(fillClassTemplate('a photo of a {c}, a type of {c}.', 'dog')).toBe('a photo of a dog, a type of dog.');
    let error: unknown;
    try {
      fillClassTemplate('a photo', 'dog');
    } catch (caught) {
      error = caught;
    }
    expect(isLlm2ClipError(error, 'E_CONFIG')).toBe(true);
  });

  it('rejects labels outside the classes and a wrong prompt count', () => {
    const weights = rows([[1, 0], [0, 1]]);
    expect(() => zeroShotMetrics(rows([[1, 0]]), weights, [2])).toThrow(/E_DATA/);
    expect(() => averageTemplateEmbeddings(rows([[1, 0]]), 2, 1)).toThrow(/E_SHAPE/);
  });
});

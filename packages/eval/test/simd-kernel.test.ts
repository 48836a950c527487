import { describe, expect, it } from 'vitest';
import { cosineSimilarity, retrievalRanks, topK } from '../src/index.js';
import { simdAvailable } from '../src/wasm-similarity.js';
import { randomRows } from './toy-embedders.js';

describe('WebAssembly SIMD similarity kernel', () => {
  it('is available on this Node (WebAssembly SIMD is on by default since Node 16)', () => {
    expect(simdAvailable()).toBe(true);
  });

  it('gives the same bits as the JavaScript kernel for ragged shapes (rows, columns, dim not multiples of 4)', () => {
    for (const [rows, cols, dim] of [[1, 1, 1], [5, 7, 3], [9, 13, 17], [33, 70, 130]] as const) {
      const a = randomRows(rows, dim, 3 + dim);
      const b = randomRows(cols, dim, 5 + dim);
      const simd = cosineSimilarity(a, b, { blockRows: 4 });
      const js = cosineSimilarity(a, b, { kernel: 'js' });
      expect(Array.from(simd.data)).toEqual(Array.from(js.data));
      // and both are the cosine to float32 accuracy
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          let dot = 0;
          let na = 0;
          let nb = 0;
          for (let k = 0; k < dim; k++) {
            dot += a.data[i * dim + k] * b.data[j * dim + k];
            na += a.data[i * dim + k] ** 2;
            nb += b.data[j * dim + k] ** 2;
          }
          expect(simd.data[i * cols + j]).toBeCloseTo(dot / Math.sqrt(na * nb), 5);
        }
      }
    }
  });

  it('ranks and top-k agree between kernels, ties included', () => {
    // entries from {-1, 0, 1}: many exact ties
    const images = randomRows(23, 6, 11, [-1, 0, 1]);
    const texts = randomRows(57, 6, 12, [-1, 0, 1]);
    const textToImage = Array.from({ length: 57 }, (_, j) => j % 23);
    const simd = retrievalRanks(images, texts, textToImage, { blockRows: 5 });
    const js = retrievalRanks(images, texts, textToImage, { kernel: 'js' });
    expect(Array.from(simd.i2t)).toEqual(Array.from(js.i2t));
    expect(Array.from(simd.t2i)).toEqual(Array.from(js.t2i));
    const a = topK(texts, images, 4, { blockRows: 3 });
    const b = topK(texts, images, 4, { kernel: 'js' });
    expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
  });
});

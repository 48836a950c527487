import { describe, expect, it } from 'vitest';
import { embeddingMatrix, isLlm2ClipError } from '@llm2clip/core';
import { cosineSimilarity, similarityBlocks } from '../src/index.js';
import { randomRows, rows } from './toy-embedders.js';

/** Cosine similarity the obvious way, in float64. */
function naiveCosine(a: { rows: number; dim: number; data: Float32Array }, b: typeof a): number[][] {
  const norm = (m: typeof a, r: number): number => {
    let s = 0;
    for (let k = 0; k < m.dim; k++) s += m.data[r * m.dim + k] ** 2;
    return Math.sqrt(s);
  };
  const out: number[][] = [];
  for (let i = 0; i < a.rows; i++) {
    const row: number[] = [];
    for (let j = 0; j < b.rows; j++) {
      let dot = 0;
      for (let k = 0; k < a.dim; k++) dot += a.data[i * a.dim + k] * b.data[j * b.dim + k];
      row.push(dot / (norm(a, i) * norm(b, j)));
    }
    out.push(row);
  }
  return out;
}

describe('cosine similarity', () => {
  it('blockwise similarity equals the naive computation for every block size', () => {
    // 13 × 11 at dim 7 exercises the 4×4 kernel and its row and column remainders
    const queries = randomRows(13, 7, 1);
    const gallery = randomRows(11, 7, 2);
    const expected = naiveCosine(queries, gallery);
    for (const blockRows of [1, 3, 4, 5, 13, 100, undefined]) {
      const sim = cosineSimilarity(queries, gallery, { blockRows });
      expect(sim.rows).toBe(13);
      expect(sim.cols).toBe(11);
      expect(sim.data).toBeInstanceOf(Float32Array);
      for (let i = 0; i < 13; i++) {
        for (let j = 0; j < 11; j++) expect(sim.data[i * 11 + j]).toBeCloseTo(expected[i][j], 6);
      }
    }
  });

  it('gives identical values whatever the block size (deterministic summation order)', () => {
    const queries = randomRows(37, 33, 3);
    const gallery = randomRows(150, 33, 4);
    const reference = cosineSimilarity(queries, gallery, { blockRows: 1 }).data;
    for (const blockRows of [2, 7, 8, 37]) {
      expect(cosineSimilarity(queries, gallery, { blockRows }).data).toEqual(reference);
    }
  });

  it('is the cosine: scaling a row does not change it, orthogonal rows give 0', () => {
    const sim = cosineSimilarity(rows([[3, 0], [0, 5]]), rows([[2, 0], [1, 1], [0, 0.5]]));
    expect(Array.from(sim.data).map((v) => Number(v.toFixed(6)))).toEqual([1, 0.707107, 0, 0, 0.707107, 1]);
  });

  it('yields blocks of the requested height covering all rows once', () => {
    const queries = randomRows(10, 4, 5);
    const gallery = randomRows(6, 4, 6);
    const blocks = [...similarityBlocks(queries, gallery, { blockRows: 4 })];
    expect(blocks.map((b) => [b.rowStart, b.rowCount, b.cols, b.data.length])).toEqual([
      [0, 4, 6, 24],
      [4, 4, 6, 24],
      [8, 2, 6, 12],
    ]);
    const full = cosineSimilarity(queries, gallery).data;
    expect(blocks[2].data).toEqual(full.subarray(8 * 6));
  });

  it('skips normalisation with assumeNormalized', () => {
    const sim = cosineSimilarity(rows([[2, 0]]), rows([[3, 0]]), { assumeNormalized: true });
    expect(sim.data[0]).toBe(6);
  });

  it('rejects mismatched dims with E_SHAPE, non-finite values with E_DATA, bad blockRows with E_CONFIG', () => {
    const catchCode = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (error) {
        return isLlm2ClipError(error) ? `${error.code}: ${error.message}` : String(error);
      }
      return undefined;
    };
    expect(catchCode(() => cosineSimilarity(rows([[1, 0]]), rows([[1, 0, 0]])))).toMatch(/^E_SHAPE: .*dim 2.*dim 3/);
    expect(catchCode(() => cosineSimilarity(rows([[1, 0], [Number.NaN, 1]]), rows([[1, 0]])))).toMatch(/^E_DATA: .*queries row 1/);
    expect(catchCode(() => cosineSimilarity(rows([[1, 0]]), rows([[1, 0]]), { blockRows: 0 }))).toMatch(/^E_CONFIG/);
    const lying = { rows: 2, dim: 2, data: new Float32Array(3) };
    expect(catchCode(() => cosineSimilarity(lying, rows([[1, 0]])))).toMatch(/^E_SHAPE/);
  });

  it('handles empty inputs', () => {
    const empty = embeddingMatrix(0, 3, new Float32Array(0));
    expect(cosineSimilarity(empty, randomRows(4, 3, 7)).data.length).toBe(0);
    expect(cosineSimilarity(randomRows(4, 3, 7), empty)).toMatchObject({ rows: 4, cols: 0 });
  });
});

import { describe, expect, it } from 'vitest';
import { isLlm2ClipError } from '@llm2clip/core';
import { bestRankOf, cosineSimilarity, rankOf, ranksBefore, topK, topKIndices } from '../src/index.js';
import { randomRows } from './toy-embedders.js';

/** Indices sorted by (score desc, index asc): the documented ranking order, by brute force. */
function sortedOrder(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
}

describe('ranking order and ranks', () => {
  it('puts higher scores first and breaks ties by lower index', () => {
    expect(ranksBefore(0.9, 5, 0.8, 0)).toBe(true);
    expect(ranksBefore(0.8, 0, 0.9, 5)).toBe(false);
    expect(ranksBefore(0.5, 1, 0.5, 2)).toBe(true);
    expect(ranksBefore(0.5, 2, 0.5, 1)).toBe(false);
    expect(ranksBefore(0.5, 2, 0.5, 2)).toBe(false);
  });

  it('rank = 1 + #strictly higher + #equal with lower index', () => {
    const scores = [0.2, 0.9, 0.9, 0.1, 0.9];
    expect(rankOf(scores, 1)).toBe(1);
    expect(rankOf(scores, 2)).toBe(2);
    expect(rankOf(scores, 4)).toBe(3);
    expect(rankOf(scores, 0)).toBe(4);
    expect(rankOf(scores, 3)).toBe(5);
  });

  it('best rank of several targets is the rank of the best-placed one', () => {
    const scores = [0.2, 0.9, 0.9, 0.1, 0.5];
    expect(bestRankOf(scores, [3, 0])).toBe(4);
    expect(bestRankOf(scores, [4, 2])).toBe(2);
    expect(bestRankOf(scores, [2, 1])).toBe(1);
  });

  it('rejects out-of-range targets, NaN target scores and empty target lists', () => {
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (error) {
        return isLlm2ClipError(error) ? error.code : 'other';
      }
      return undefined;
    };
    expect(code(() => rankOf([1, 2], 2))).toBe('E_SHAPE');
    expect(code(() => rankOf([1, Number.NaN], 1))).toBe('E_DATA');
    expect(code(() => bestRankOf([1, 2], []))).toBe('E_CONFIG');
    expect(code(() => topKIndices([1, 2], -1))).toBe('E_CONFIG');
  });
});

describe('top-k', () => {
  it('returns the k best indices in rank order, ties by lower index', () => {
    expect(Array.from(topKIndices([0.2, 0.9, 0.5, 0.9, 0.5, 0.1], 4))).toEqual([1, 3, 2, 4]);
    expect(Array.from(topKIndices([3, 1, 2], 10))).toEqual([0, 2, 1]);
    expect(Array.from(topKIndices([3, 1, 2], 0))).toEqual([]);
  });

  it('agrees with a full sort on random scores with many ties', () => {
    let seed = 7;
    for (let trial = 0; trial < 50; trial++) {
      const length = 1 + (trial * 7) % 40;
      const scores = Array.from({ length }, () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return Math.floor((seed / 2 ** 31) * 6) / 6;
      });
      const order = sortedOrder(scores);
      for (const k of [1, 3, length]) {
        expect(Array.from(topKIndices(scores, k))).toEqual(order.slice(0, k));
      }
      order.forEach((index, position) => expect(rankOf(scores, index)).toBe(position + 1));
    }
  });

  it('topK over embeddings equals sorting each row of the full similarity matrix', () => {
    const queries = randomRows(23, 5, 11, [-1, 0, 1]);
    const gallery = randomRows(17, 5, 12, [-1, 0, 1]);
    const full = cosineSimilarity(queries, gallery);
    for (const blockRows of [1, 6, undefined]) {
      const result = topK(queries, gallery, 5, { blockRows });
      expect(result.k).toBe(5);
      for (let r = 0; r < 23; r++) {
        const row = full.data.subarray(r * 17, (r + 1) * 17);
        const expected = sortedOrder(row).slice(0, 5);
        expect(Array.from(result.indices.subarray(r * 5, r * 5 + 5))).toEqual(expected);
        expect(Array.from(result.scores.subarray(r * 5, r * 5 + 5))).toEqual(expected.map((j) => row[j]));
      }
    }
    expect(topK(queries, gallery, 40).k).toBe(17);
  });
});

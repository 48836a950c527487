import { describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { BatchCursor, captionTriple, captionTriples } from '../src/index.js';
import { tinySamples } from './fixtures.js';

describe('caption triples', () => {
  const samples = tinySamples(6);

  it('pairs a short and a long caption of one image, in both directions, with a same-kind negative from another image', () => {
    const rng = new Rng(3);
    const directions = new Set<string>();
    for (let round = 0; round < 40; round++) {
      const index = round % samples.length;
      const triple = captionTriple(samples, index, rng);
      const sample = samples[index];
      const kindOf = (s: typeof sample, caption: string) => s.captionKinds![s.captions.indexOf(caption)];
      expect(triple.key).toBe(sample.key);
      expect(sample.captions).toContain(triple.query);
      expect(sample.captions).toContain(triple.positive);
      expect(kindOf(sample, triple.query)).not.toBe(kindOf(sample, triple.positive));
      directions.add(`${kindOf(sample, triple.query)}->${kindOf(sample, triple.positive)}`);
      const owner = samples.find((s, i) => i !== index && s.captions.includes(triple.hardNegative));
      expect(owner).toBeDefined();
      expect(kindOf(owner!, triple.hardNegative)).toBe(kindOf(sample, triple.positive));
    }
    expect([...directions].sort()).toEqual(['long->short', 'short->long']);
  });

  it('keeps short queries and long documents with swap probability 0, without changing which images are drawn', () => {
    const kindOf = (index: number, caption: string) => samples[index].captionKinds![samples[index].captions.indexOf(caption)];
    const indices = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5];
    const fixed = captionTriples(samples, indices, new Rng(5), 0);
    const mixed = captionTriples(samples, indices, new Rng(5), 0.5);
    fixed.forEach((triple, i) => {
      expect(kindOf(indices[i], triple.query)).toBe('short');
      expect(kindOf(indices[i], triple.positive)).toBe('long');
    });
    expect(mixed.some((triple, i) => kindOf(indices[i], triple.query) === 'long')).toBe(true);
    // the probability changes only the direction, not the random stream
    expect(fixed.map((t) => t.key)).toEqual(mixed.map((t) => t.key));
  });

  it('is deterministic given the rng', () => {
    expect(captionTriples(samples, [0, 1, 2, 3], new Rng(9))).toEqual(captionTriples(samples, [0, 1, 2, 3], new Rng(9)));
  });

  it('uses two distinct captions when kinds are unknown, and rejects single-caption images', () => {
    const plain = samples.map(({ captionKinds: _, ...rest }) => rest);
    const triple = captionTriple(plain, 0, new Rng(1));
    expect(triple.query).not.toBe(triple.positive);
    const single = [{ ...plain[0], captions: ['a red cube'] }, plain[1]];
    expect(() => captionTriple(single, 0, new Rng(1))).toThrow(/E_DATA.*sample img-0/);
  });
});

describe('BatchCursor', () => {
  it('covers every index once per epoch and resumes from its state', () => {
    const cursor = new BatchCursor(10, 3, 7);
    const epoch0 = [...cursor.next(), ...cursor.next(), ...cursor.next()];
    expect(new Set(epoch0).size).toBe(9);
    const state = cursor.state();
    const next = [cursor.next(), cursor.next()];
    const resumed = new BatchCursor(10, 3, 7, state);
    expect([resumed.next(), resumed.next()]).toEqual(next);
  });
});

import { Llm2ClipError, type Rng, type Sample } from '@llm2clip/core';

/** One stage-1 training example: two captions of one image and a caption of another. */
export interface CaptionTriple {
  /** Key of the image the query and positive describe. */
  key: string;
  /** The query caption. */
  query: string;
  /** Another caption of the same image. */
  positive: string;
  /** A caption of another image, of the positive's kind (short/long) when kinds are known. */
  hardNegative: string;
  /**
   * Direction of a short/long pair: `short-to-long` (short query, long positive) or
   * `long-to-short` (swapped); `unknown` when the sample has no short and long caption kinds.
   * LLM2CLIP gives each direction its own instruction.
   */
  direction?: CaptionDirection;
}

/** Direction of a caption pair (see {@link CaptionTriple.direction}). */
export type CaptionDirection = 'short-to-long' | 'long-to-short' | 'unknown';

/** What stage 1 needs of a sample: its key and captions (with kinds when known); images are not used. */
export type CaptionedSample = Pick<Sample, 'key' | 'captions' | 'captionKinds'>;

function kindsOf(sample: CaptionedSample): readonly string[] | undefined {
  const kinds = sample.captionKinds;
  return kinds !== undefined && kinds.length === sample.captions.length ? kinds : undefined;
}

function indicesOfKind(kinds: readonly string[], kind: string): number[] {
  const out: number[] = [];
  kinds.forEach((k, i) => {
    if (k === kind) out.push(i);
  });
  return out;
}

/**
 * The training triple of `samples[index]`, drawn with `rng` (same `rng` state → same triple):
 *
 * - with `short` and `long` caption kinds: query = a short caption, positive = a long one,
 *   swapped with probability `swapProbability` (default 1/2: LLM2CLIP pairs short and dense
 *   captions in both directions; 0 keeps short queries and long documents, the CRA direction);
 *   otherwise two distinct captions at random;
 * - hard negative = a caption of the positive's kind from another, uniformly drawn image.
 *
 * @throws Llm2ClipError `E_DATA` when the sample has fewer than two captions, `E_CONFIG` when
 *   there are fewer than two samples.
 */
export function captionTriple(samples: readonly CaptionedSample[], index: number, rng: Rng, swapProbability = 0.5): CaptionTriple {
  if (samples.length < 2) throw new Llm2ClipError('E_CONFIG', `stage 1 needs at least two samples, got ${samples.length}`, { field: 'samples' });
  const sample = samples[index];
  if (sample.captions.length < 2) throw new Llm2ClipError('E_DATA', 'stage 1 needs at least two captions per image', { key: sample.key });
  const kinds = kindsOf(sample);
  let queryIndex: number;
  let positiveIndex: number;
  let direction: CaptionDirection = 'unknown';
  const shorts = kinds !== undefined ? indicesOfKind(kinds, 'short') : [];
  const longs = kinds !== undefined ? indicesOfKind(kinds, 'long') : [];
  if (shorts.length > 0 && longs.length > 0) {
    queryIndex = rng.pick(shorts);
    positiveIndex = rng.pick(longs);
    // always draw, so the random stream does not depend on the probability
    const swapped = rng.bernoulli(swapProbability);
    if (swapped) [queryIndex, positiveIndex] = [positiveIndex, queryIndex];
    direction = swapped ? 'long-to-short' : 'short-to-long';
  } else {
    queryIndex = rng.int(0, sample.captions.length - 1);
    positiveIndex = rng.int(0, sample.captions.length - 2);
    if (positiveIndex >= queryIndex) positiveIndex += 1;
  }
  let otherIndex = rng.int(0, samples.length - 2);
  if (otherIndex >= index) otherIndex += 1;
  const other = samples[otherIndex];
  if (other.captions.length === 0) throw new Llm2ClipError('E_DATA', 'image has no caption', { key: other.key });
  const otherKinds = kindsOf(other);
  const wanted = kinds?.[positiveIndex];
  const sameKind = otherKinds !== undefined && wanted !== undefined ? indicesOfKind(otherKinds, wanted) : [];
  const negativeIndex = sameKind.length > 0 ? rng.pick(sameKind) : rng.int(0, other.captions.length - 1);
  return {
    key: sample.key,
    query: sample.captions[queryIndex],
    positive: sample.captions[positiveIndex],
    hardNegative: other.captions[negativeIndex],
    direction,
  };
}

/** Triples for `indices` (in order), drawn one after another from `rng`. */
export function captionTriples(samples: readonly CaptionedSample[], indices: readonly number[], rng: Rng, swapProbability = 0.5): CaptionTriple[] {
  return indices.map((index) => captionTriple(samples, index, rng, swapProbability));
}

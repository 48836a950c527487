import { Rng } from '@llm2clip/core';
import { longCaption } from './captions.js';
import { generateScene, type Scene, type SceneOptions } from './scene.js';
import { SPECIAL_TOKENS, splitWords } from './vocabulary.js';

/** The context length of CLIP's text transformer (tokens, including start and end tokens). */
export const CLIP_CONTEXT_LENGTH = 77;

/** Where a long caption puts its information, in word-level tokens. */
export interface LongCaptionAnalysis {
  /** Tokens of the caption including the leading `<s>` the tokenizer adds. */
  tokens: number;
  /**
   * Per object (scene order): index, in the token sequence with `<s>` at 0, of the shape word of
   * the first `<colour> <shape>` mention; -1 if never mentioned.
   */
  firstMention: number[];
  /** Objects whose first colour+shape mention lies at index >= `contextLength` (cut off by the window). */
  objectsPastContext: number;
}

/** Locates each object's first colour+shape mention in `caption`. */
export function analyseLongCaption(scene: Scene, caption: string, contextLength = CLIP_CONTEXT_LENGTH): LongCaptionAnalysis {
  const tokens = [SPECIAL_TOKENS.bos, ...splitWords(caption)];
  const firstMention = scene.objects.map((object) => {
    for (let i = 0; i + 1 < tokens.length; i++) {
      if (tokens[i] === object.colour && tokens[i + 1] === object.shape) return i + 1;
    }
    return -1;
  });
  return {
    tokens: tokens.length,
    firstMention,
    objectsPastContext: firstMention.filter((index) => index >= contextLength).length,
  };
}

/** Summary statistics of long captions against a context window. */
export interface LongCaptionStatistics {
  /** Captions measured. */
  captions: number;
  /** The window the fractions refer to. */
  contextLength: number;
  /** Token counts (with `<s>`): min, 10th/50th/90th percentile, max and mean. */
  tokens: { min: number; p10: number; median: number; p90: number; max: number; mean: number };
  /** Fraction of captions with more than `contextLength` tokens. */
  fractionLongerThanContext: number;
  /** Fraction of captions where at least one object's colour+shape first appears past the window. */
  fractionWithObjectPastContext: number;
  /** Fraction of all objects whose colour+shape first appears past the window. */
  fractionOfObjectsPastContext: number;
  /** Count of captions per 16-token bucket, keyed by the bucket start (`"64"` = 64–79). */
  histogram: Record<string, number>;
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Summarises {@link analyseLongCaption} results. */
export function summariseLongCaptions(analyses: readonly LongCaptionAnalysis[], contextLength = CLIP_CONTEXT_LENGTH): LongCaptionStatistics {
  const lengths = analyses.map((a) => a.tokens).sort((a, b) => a - b);
  const objects = analyses.reduce((sum, a) => sum + a.firstMention.length, 0);
  const histogram: Record<string, number> = {};
  for (const length of lengths) {
    const bucket = String(Math.floor(length / 16) * 16);
    histogram[bucket] = (histogram[bucket] ?? 0) + 1;
  }
  const count = Math.max(1, analyses.length);
  return {
    captions: analyses.length,
    contextLength,
    tokens: {
      min: lengths[0] ?? 0,
      p10: percentile(lengths, 0.1),
      median: percentile(lengths, 0.5),
      p90: percentile(lengths, 0.9),
      max: lengths[lengths.length - 1] ?? 0,
      mean: lengths.reduce((sum, n) => sum + n, 0) / count,
    },
    fractionLongerThanContext: analyses.filter((a) => a.tokens > contextLength).length / count,
    fractionWithObjectPastContext: analyses.filter((a) => a.objectsPastContext > 0).length / count,
    fractionOfObjectsPastContext: analyses.reduce((sum, a) => sum + a.objectsPastContext, 0) / Math.max(1, objects),
    histogram,
  };
}

/**
 * Generates `scenes` scenes with one long caption each from `seed` and measures them against
 * `contextLength` (default 77) tokens.
 */
export function measureLongCaptions(options: { seed: number; scenes: number; contextLength?: number; sceneOptions?: SceneOptions }): LongCaptionStatistics {
  const rng = new Rng(options.seed);
  const contextLength = options.contextLength ?? CLIP_CONTEXT_LENGTH;
  const analyses: LongCaptionAnalysis[] = [];
  for (let i = 0; i < options.scenes; i++) {
    const scene = generateScene(rng, options.sceneOptions);
    analyses.push(analyseLongCaption(scene, longCaption(scene, rng), contextLength));
  }
  return summariseLongCaptions(analyses, contextLength);
}

import { Llm2ClipError, Rng, type Sample } from '@llm2clip/core';

/**
 * How the loader picks captions for each sample:
 * - `all`: keep every caption (default);
 * - `random`: one caption, uniformly, from the sample's seeded stream;
 * - `kind`: the first caption of a given kind (`captionKinds`, e.g. `long` or `longSV_captions`), skipping samples without it;
 * - `index`: the caption at a fixed position;
 * - `pairs`: for stage 1, an anchor and a positive caption of the same image (by kind, or two
 *   distinct random ones) plus a hard negative: the caption of another sample in the batch whose
 *   words overlap the anchor's most.
 */
export type CaptionSelection =
  | { mode: 'all' }
  | { mode: 'random' }
  | { mode: 'kind'; kind: string }
  | { mode: 'index'; index: number }
  | { mode: 'pairs'; anchorKind?: string; positiveKind?: string; hardNegatives?: boolean };

/** A stage-1 caption pair with its hard negative. */
export interface CaptionPair {
  anchor: string;
  positive: string;
  /** A caption of another sample of the batch (absent with a batch of one or `hardNegatives: false`). */
  negative?: string;
  /** Key of the sample the negative came from. */
  negativeKey?: string;
}

/** The captions picked for one sample, or why none could be. */
export type PickedCaptions = { ok: true; caption?: string; pair?: CaptionPair } | { ok: false; detail: string };

function byKind(sample: Sample, kind: string): string | undefined {
  const index = sample.captionKinds?.indexOf(kind) ?? -1;
  return index >= 0 ? sample.captions[index] : undefined;
}

/** Picks the caption(s) of one sample per `selection`, drawing from `rng` (the sample's own stream). */
export function pickCaptions(sample: Sample, selection: CaptionSelection, rng: Rng): PickedCaptions {
  switch (selection.mode) {
    case 'all':
      return { ok: true };
    case 'random':
      return { ok: true, caption: rng.pick(sample.captions) };
    case 'kind': {
      const caption = byKind(sample, selection.kind);
      return caption !== undefined ? { ok: true, caption } : { ok: false, detail: `no caption of kind "${selection.kind}"` };
    }
    case 'index': {
      const caption = sample.captions[selection.index];
      return caption !== undefined ? { ok: true, caption } : { ok: false, detail: `no caption at index ${selection.index}` };
    }
    case 'pairs': {
      if (selection.anchorKind !== undefined || selection.positiveKind !== undefined) {
        const anchor = selection.anchorKind !== undefined ? byKind(sample, selection.anchorKind) : rng.pick(sample.captions);
        const positive = selection.positiveKind !== undefined ? byKind(sample, selection.positiveKind) : rng.pick(sample.captions.filter((c) => c !== anchor));
        if (anchor === undefined || positive === undefined) return { ok: false, detail: `needs captions of kinds ${selection.anchorKind ?? 'any'} and ${selection.positiveKind ?? 'any other'}` };
        return { ok: true, pair: { anchor, positive } };
      }
      if (sample.captions.length < 2) return { ok: false, detail: 'a pair needs two captions' };
      const order = rng.permutation(sample.captions.length);
      return { ok: true, pair: { anchor: sample.captions[order[0]], positive: sample.captions[order[1]] } };
    }
    default:
      throw new Llm2ClipError('E_CONFIG', `unknown caption selection ${JSON.stringify(selection)}`, { field: 'captions' });
  }
}

function words(text: string): Set<string> {
  return new Set(text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((word) => word !== ''));
}

/** Jaccard overlap of the word sets of two texts, in [0, 1]. */
export function wordOverlap(a: string, b: string): number {
  const left = words(a);
  const right = words(b);
  let shared = 0;
  for (const word of left) if (right.has(word)) shared++;
  const union = left.size + right.size - shared;
  return union === 0 ? 0 : shared / union;
}

/**
 * Fills in the hard negative of each pair from the other items of the batch: among the other
 * samples' captions, the one whose words overlap the anchor's most (ties keep the earlier item),
 * a caption that is similar but describes another image.
 */
export function assignHardNegatives(items: { key: string; captions: readonly string[]; pair?: CaptionPair }[]): void {
  for (const item of items) {
    if (item.pair === undefined) continue;
    let best: { caption: string; key: string; score: number } | undefined;
    for (const other of items) {
      if (other === item || other.key === item.key) continue;
      for (const caption of other.captions) {
        const score = wordOverlap(item.pair.anchor, caption);
        if (best === undefined || score > best.score) best = { caption, key: other.key, score };
      }
    }
    if (best !== undefined) {
      item.pair.negative = best.caption;
      item.pair.negativeKey = best.key;
    }
  }
}

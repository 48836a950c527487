import { Llm2ClipError, type Sample } from '@llm2clip/core';

/**
 * Decides whether caption `index` of `sample` takes part in an evaluation. `kind` is
 * `sample.captionKinds?.[index]`.
 */
export type CaptionFilter = (caption: string, kind: string | undefined, index: number, sample: Sample) => boolean;

/**
 * Which captions of each sample to evaluate:
 *
 * - a string: the captions whose `sample.captionKinds` entry equals it (e.g. `'short'`, `'long'`);
 *   a sample without `captionKinds` is an error (`E_DATA`), since its kinds are unknown;
 * - a {@link CaptionFilter} (named `'custom'` in results);
 * - `{ name, filter }`: a filter with the name results are keyed by.
 */
export type CaptionSelector = string | CaptionFilter | { readonly name: string; readonly filter: CaptionFilter };

/** Selects every caption of every sample; its name is `'all'`. */
export const ALL_CAPTIONS: CaptionSelector = { name: 'all', filter: () => true };

/** A selector in one shape: its name and the caption indices it picks from a sample. @internal */
export interface ResolvedCaptionSelector {
  readonly name: string;
  select(sample: Sample): number[];
}

/** Turns any {@link CaptionSelector} into a {@link ResolvedCaptionSelector}. @internal */
export function resolveCaptionSelector(selector: CaptionSelector): ResolvedCaptionSelector {
  if (typeof selector === 'string') {
    if (selector === '') throw new Llm2ClipError('E_CONFIG', 'caption kind must not be empty', { field: 'captionKind' });
    return {
      name: selector,
      select(sample) {
        const kinds = sample.captionKinds;
        if (kinds === undefined) {
          throw new Llm2ClipError('E_DATA', `cannot select captions of kind '${selector}': the sample has no captionKinds`, {
            key: sample.key,
            field: 'captionKinds',
          });
        }
        if (kinds.length !== sample.captions.length) {
          throw new Llm2ClipError(
            'E_DATA',
            `captionKinds has ${kinds.length} entries for ${sample.captions.length} captions`,
            { key: sample.key, field: 'captionKinds' },
          );
        }
        const picked: number[] = [];
        for (let i = 0; i < kinds.length; i++) if (kinds[i] === selector) picked.push(i);
        return picked;
      },
    };
  }
  const name = typeof selector === 'function' ? 'custom' : selector.name;
  const filter = typeof selector === 'function' ? selector : selector.filter;
  if (name === '') throw new Llm2ClipError('E_CONFIG', 'caption selector name must not be empty', { field: 'captionKind' });
  return {
    name,
    select(sample) {
      const picked: number[] = [];
      for (let i = 0; i < sample.captions.length; i++) {
        if (filter(sample.captions[i], sample.captionKinds?.[i], i, sample)) picked.push(i);
      }
      return picked;
    },
  };
}

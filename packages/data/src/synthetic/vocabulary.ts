import { CAPTION_TEMPLATES, SLOT_VALUES } from './caption-templates.js';

/** Special tokens of the synthetic word-level tokenizer, with their fixed ids 0–4. */
export const SPECIAL_TOKENS = {
  pad: '<pad>',
  unk: '<unk>',
  bos: '<s>',
  eos: '</s>',
  mask: '<mask>',
} as const;

/**
 * Splits text into word-level tokens the way the tokenizer's `BertPreTokenizer` does for
 * caption text: lowercased, runs of letters and digits are words, every other non-space
 * character is a token of its own.
 */
export function splitWords(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}\p{M}]+|[^\s\p{L}\p{N}\p{M}]/gu) ?? [];
}

let cachedVocabulary: readonly string[] | undefined;

/**
 * Every word and punctuation mark the caption generator can emit, sorted. Derived from the
 * template strings (with their `{slot}` placeholders removed) and the closed lists of slot
 * values, so adding a template extends the vocabulary automatically.
 */
export function captionVocabulary(): readonly string[] {
  if (cachedVocabulary !== undefined) return cachedVocabulary;
  const words = new Set<string>();
  for (const pool of Object.values(CAPTION_TEMPLATES)) {
    for (const template of pool) {
      for (const word of splitWords(template.replace(/\{[a-z]+\d*\}/g, ' '))) words.add(word);
    }
  }
  for (const values of Object.values(SLOT_VALUES)) {
    for (const value of values) for (const word of splitWords(value)) words.add(word);
  }
  // phrase slots hold text built from these same templates, so their words are already in
  cachedVocabulary = Object.freeze([...words].sort());
  return cachedVocabulary;
}

/** Words of `text` that are not in `vocabulary` (in order of appearance, with repeats). */
export function outOfVocabularyWords(text: string, vocabulary: ReadonlySet<string> = new Set(captionVocabulary())): string[] {
  return splitWords(text).filter((word) => !vocabulary.has(word));
}

import { z } from 'zod';
import { Llm2ClipError } from '@llm2clip/core';

/**
 * Checks on a `tokenizer.json` before it reaches `@huggingface/tokenizers`, whose models store the
 * vocabulary as a dense array indexed by token id: one id of 2^31 makes `get_vocab()` walk two
 * billion slots (a hang found by the `tokenizer-json` fuzz target). Ids are bounded like
 * `vocab_size` in `config.json`, and the shapes the library indexes into are checked.
 */

/** Largest token id accepted (2^22 - 1, as `LLM_CONFIG_LIMITS.vocab_size`). */
export const MAX_TOKEN_ID = (1 << 22) - 1;
/** Longest regular expression accepted in a `Regex` pattern (real pre-tokenizers use < 300 chars). */
export const MAX_PATTERN_LENGTH = 4096;

const tokenId = z.number().int().nonnegative().max(MAX_TOKEN_ID);
const addedToken = z.looseObject({ id: tokenId, content: z.string() });
const vocabObject = z.record(z.string(), tokenId);
const unigramVocab = z.array(z.tuple([z.string(), z.number()]).rest(z.unknown())).min(1);
const merges = z.array(z.union([z.string(), z.tuple([z.string(), z.string()])]));

/** Schema of the parts of `tokenizer.json` the library indexes into. */
export const TokenizerJsonSchema = z.looseObject({
  added_tokens: z.array(addedToken).default([]),
  model: z.looseObject({
    type: z.string().optional(),
    vocab: z.union([vocabObject, unigramVocab]),
    merges: merges.optional(),
    unk_id: tokenId.nullish(),
  }),
});

/** Every `{ Regex: … }` pattern in `value`, with its JSON path. */
function regexPatterns(value: unknown, path: string, out: Array<[string, unknown]>, depth = 0): void {
  if (depth > 64 || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => regexPatterns(item, `${path}.${i}`, out, depth + 1));
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    if (key === 'Regex') out.push([`${path}.Regex`, item]);
    else regexPatterns(item, path === '' ? key : `${path}.${key}`, out, depth + 1);
  }
}

/**
 * Validates a parsed `tokenizer.json` (`E_FORMAT` naming the file and the field): an object with a
 * `model` whose `vocab` maps tokens to ids in `[0, MAX_TOKEN_ID]` (or is a Unigram list), added
 * tokens with ids in that range, well-formed `merges`, and `Regex` patterns that are strings of
 * at most {@link MAX_PATTERN_LENGTH} characters.
 */
export function validateTokenizerJson(json: unknown, path: string): void {
  const parsed = TokenizerJsonSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Llm2ClipError('E_FORMAT', `invalid tokenizer.json: ${issue.message}`, { path, field: issue.path.map(String).join('.') || undefined });
  }
  const { model } = parsed.data;
  if (Array.isArray(model.vocab)) {
    if (model.vocab.length > MAX_TOKEN_ID + 1) throw new Llm2ClipError('E_FORMAT', `vocabulary of ${model.vocab.length} pieces is over the ${MAX_TOKEN_ID + 1} limit`, { path, field: 'model.vocab' });
    if (model.unk_id != null && model.unk_id >= model.vocab.length) throw new Llm2ClipError('E_FORMAT', `unk_id ${model.unk_id} is outside the vocabulary`, { path, field: 'model.unk_id' });
  }
  // only the pipeline components hold patterns; vocabularies may contain a token spelled "Regex"
  const patterns: Array<[string, unknown]> = [];
  for (const part of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) regexPatterns((json as Record<string, unknown>)[part], part, patterns);
  for (const [field, pattern] of patterns) {
    // compiling is left to the library, which rewrites Python-only syntax such as `(?i:…)` first
    if (typeof pattern !== 'string' || pattern.length > MAX_PATTERN_LENGTH) {
      throw new Llm2ClipError('E_FORMAT', `a Regex pattern must be a string of at most ${MAX_PATTERN_LENGTH} characters`, { path, field });
    }
  }
}

import { Llm2ClipError } from '@llm2clip/core';
import { SPECIAL_TOKENS } from './synthetic/vocabulary.js';

/** Options of {@link buildWordLevelTokenizerJson} and {@link buildTokenizerConfigJson}. */
export interface WordLevelTokenizerOptions {
  /** Prepend `<s>` to every sequence, as Llama tokenizers do (default true). */
  addBos?: boolean;
  /** Append `</s>` to every sequence (default false). */
  addEos?: boolean;
  /** `model_max_length` of `tokenizer_config.json` (default 512). */
  modelMaxLength?: number;
}

/** One entry of `added_tokens` in a Hugging Face `tokenizer.json`. */
export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

type TemplatePiece = { SpecialToken: { id: string; type_id: number } } | { Sequence: { id: 'A' | 'B'; type_id: number } };

/** The shape of the `tokenizer.json` this package writes (a WordPiece model used word by word). */
export interface WordLevelTokenizerJson {
  version: '1.0';
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: { type: 'Lowercase' };
  pre_tokenizer: { type: 'BertPreTokenizer' };
  post_processor: {
    type: 'TemplateProcessing';
    single: TemplatePiece[];
    pair: TemplatePiece[];
    special_tokens: Record<string, { id: string; ids: number[]; tokens: string[] }>;
  };
  decoder: { type: 'WordPiece'; prefix: string; cleanup: boolean };
  model: {
    type: 'WordPiece';
    unk_token: string;
    continuing_subword_prefix: string;
    max_input_chars_per_word: number;
    vocab: Record<string, number>;
  };
}

/** The `tokenizer_config.json` written beside {@link WordLevelTokenizerJson}. */
export interface TokenizerConfigJson {
  tokenizer_class: 'PreTrainedTokenizerFast';
  add_bos_token: boolean;
  add_eos_token: boolean;
  bos_token: string;
  eos_token: string;
  pad_token: string;
  unk_token: string;
  mask_token: string;
  model_max_length: number;
  padding_side: 'left';
  clean_up_tokenization_spaces: boolean;
  added_tokens_decoder: Record<string, Omit<AddedTokenJson, 'id'>>;
}

/** The special tokens in id order: `<pad>`=0, `<unk>`=1, `<s>`=2, `</s>`=3, `<mask>`=4. */
export const SPECIAL_TOKEN_ORDER = [SPECIAL_TOKENS.pad, SPECIAL_TOKENS.unk, SPECIAL_TOKENS.bos, SPECIAL_TOKENS.eos, SPECIAL_TOKENS.mask] as const;

function addedTokens(): AddedTokenJson[] {
  return SPECIAL_TOKEN_ORDER.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
}

/**
 * Builds a Hugging Face `tokenizer.json` whose vocabulary is exactly the special tokens followed
 * by `words` (ids in the given order, from 5). The `tokenizers` format has a WordLevel model, but
 * `@huggingface/tokenizers` (JS) reads only BPE, WordPiece and Unigram, so this uses a WordPiece
 * model whose vocabulary holds whole words and no `##` pieces: every known word is one token and
 * every other word becomes `<unk>` — a word-level tokenizer that both the Rust/Python and the JS
 * libraries load. Lowercase normalizer, BERT pre-tokenizer (splits on spaces and punctuation), a
 * template post-processor adding `<s>` (and `</s>` if asked), and a WordPiece decoder.
 */
export function buildWordLevelTokenizerJson(words: readonly string[], options: WordLevelTokenizerOptions = {}): WordLevelTokenizerJson {
  const addBos = options.addBos ?? true;
  const addEos = options.addEos ?? false;
  const vocab: Record<string, number> = {};
  SPECIAL_TOKEN_ORDER.forEach((token, id) => {
    vocab[token] = id;
  });
  for (const word of words) {
    if (word.length === 0 || /\s/.test(word) || word !== word.toLowerCase() || word.startsWith('##')) {
      throw new Llm2ClipError('E_CONFIG', `vocabulary word ${JSON.stringify(word)} must be non-empty, lowercase, without spaces or a ## prefix`, {
        field: 'words',
      });
    }
    if (Object.hasOwn(vocab, word)) throw new Llm2ClipError('E_CONFIG', `vocabulary word ${JSON.stringify(word)} is listed twice or is a special token`, { field: 'words' });
    vocab[word] = Object.keys(vocab).length;
  }
  const bos = SPECIAL_TOKENS.bos;
  const eos = SPECIAL_TOKENS.eos;
  const sequence = (id: 'A' | 'B', typeId: number): TemplatePiece[] => [
    ...(addBos ? [{ SpecialToken: { id: bos, type_id: typeId } }] : []),
    { Sequence: { id, type_id: typeId } },
    ...(addEos ? [{ SpecialToken: { id: eos, type_id: typeId } }] : []),
  ];
  const specialTokens: WordLevelTokenizerJson['post_processor']['special_tokens'] = {};
  if (addBos) specialTokens[bos] = { id: bos, ids: [vocab[bos]], tokens: [bos] };
  if (addEos) specialTokens[eos] = { id: eos, ids: [vocab[eos]], tokens: [eos] };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: sequence('A', 0),
      pair: [...sequence('A', 0), ...sequence('B', 1)],
      special_tokens: specialTokens,
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: SPECIAL_TOKENS.unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

/** Builds the `tokenizer_config.json` that goes with {@link buildWordLevelTokenizerJson}. */
export function buildTokenizerConfigJson(options: WordLevelTokenizerOptions = {}): TokenizerConfigJson {
  const modelMaxLength = options.modelMaxLength ?? 512;
  if (!Number.isInteger(modelMaxLength) || modelMaxLength < 2) {
    throw new Llm2ClipError('E_CONFIG', `modelMaxLength must be an integer >= 2, got ${modelMaxLength}`, { field: 'modelMaxLength' });
  }
  const decoder: TokenizerConfigJson['added_tokens_decoder'] = {};
  for (const { id, ...token } of addedTokens()) decoder[String(id)] = token;
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    add_bos_token: options.addBos ?? true,
    add_eos_token: options.addEos ?? false,
    bos_token: SPECIAL_TOKENS.bos,
    eos_token: SPECIAL_TOKENS.eos,
    pad_token: SPECIAL_TOKENS.pad,
    unk_token: SPECIAL_TOKENS.unk,
    mask_token: SPECIAL_TOKENS.mask,
    model_max_length: modelMaxLength,
    padding_side: 'left',
    clean_up_tokenization_spaces: true,
    added_tokens_decoder: decoder,
  };
}

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { Llm2ClipError, Rng } from '@llm2clip/core';
import type { LlamaConfigInput } from '../src/index.js';

/** Special tokens of the test vocabulary, ids 0..4 (as the synthetic dataset lays them out). */
export const SPECIAL_TOKENS = ['<pad>', '<s>', '</s>', '<unk>', '<mask>'] as const;

/** Words of the test vocabulary (ids 5..). */
export const WORDS = [
  'a', 'the', 'red', 'green', 'blue', 'yellow', 'cube', 'ball', 'cone', 'ring', 'small', 'large',
  'left', 'right', 'of', 'above', 'below', 'on', 'in', 'and', 'with', 'image', 'shows', 'caption',
  'retrieve', 'matching', ':', '.', ',', 'there', 'is', 'two', 'three', 'objects', 'scene', 'near',
] as const;

/** A word-level WordPiece `tokenizer.json` with a `<s> $A` template, built in code. */
export function tinyTokenizerJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  [...SPECIAL_TOKENS, ...WORDS].forEach((token, id) => {
    vocab[token] = id;
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '<unk>', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

/** `tokenizer_config.json` of the test tokenizer. */
export function tinyTokenizerConfig(): Record<string, unknown> {
  return { bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', mask_token: '<mask>', model_max_length: 512, padding_side: 'left' };
}

/** Vocabulary size of the test tokenizer. */
export const TINY_VOCAB = SPECIAL_TOKENS.length + WORDS.length;

/** A tiny Llama config (hidden 32, 2 layers, 4 heads, 2 kv heads). */
export function tinyConfig(overrides: Partial<LlamaConfigInput> = {}): LlamaConfigInput {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: 50,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 128,
    tie_word_embeddings: false,
    attention_bias: false,
    hidden_act: 'silu',
    bos_token_id: 1,
    eos_token_id: 2,
    pad_token_id: 0,
    ...overrides,
  };
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'llm-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Writes the test tokenizer files into `dir`. */
export async function writeTinyTokenizer(dir: string): Promise<void> {
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson()));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tinyTokenizerConfig()));
}

const CAPTION_WORDS = ['a', 'photo', 'of', 'the', 'dog', 'cat', 'red', 'bicycle', 'leaning', 'against', 'wall', 'sunset', 'over', 'mountains', 'two', 'people', 'walking', 'on', 'beach', "it's", "they're", "we'll", "I'd", 'New', 'York', 'Ünïcödé', 'café', 'naïve', 'façade', 'Straße', 'größer', '日本の', '富士山', '東京タワー', '서울', 'Москва', 'красный', 'αβγ', 'שלום', 'مرحبا', 'हिन्दी', 'ไทย', 'emoji', '😀', '🐕‍🦺', '👩🏽‍🚀', '🇫🇷', '❤️', '™', '©', '½', 'x²', '→', '…', '—', 'supercalifragilisticexpialidocious', 'pneumonoultramicroscopicsilicovolcanoconiosis', 'Llanfairpwllgwyngyll', 'http://example.com/a?b=c', 'user@mail.org', '#hashtag', '@mention', '$19.99', '100%', '3.14159', '1234567890', '2024-05-01', '12:30pm', '(parenthesis)', '[bracket]', '{brace}', '"quoted"', "'single'", 'semi;colon', 'C++', 'a/b\\c', 'tab\there', 'CamelCaseWord', 'snake_case_word', 'ALLCAPS', 'MiXeD'];
const CAPTION_SEPARATORS = [' ', ' ', ' ', '  ', '   ', ', ', '. ', '! ', '? ', '\n', '\n\n', '\t', ' - ', '...', ''];

/** A few hundred deterministic captions mixing scripts, emoji, digits, punctuation and whitespace runs. */
export function variedCaptions(count: number): string[] {
  const rng = new Rng(2024);
  const out: string[] = ['', ' ', 'a', '   leading and trailing spaces   ', 'A photo of a cat.', '1 22 333 4444 55555 666666', '!!!???...', '\n\nnew lines\r\nand CRLF\r\n'];
  while (out.length < count) {
    const length = 1 + Math.floor(rng.float() * 18);
    let text = rng.float() < 0.3 ? ' ' : '';
    for (let i = 0; i < length; i++) {
      text += CAPTION_WORDS[Math.floor(rng.float() * CAPTION_WORDS.length)];
      text += CAPTION_SEPARATORS[Math.floor(rng.float() * CAPTION_SEPARATORS.length)];
    }
    if (rng.float() < 0.2) text += String(Math.floor(rng.float() * 1e9));
    out.push(text);
  }
  return out;
}

/** Awaits `promise`, expects it to reject with an `Llm2ClipError` of `code`, and returns that error. */
export async function typedError(promise: Promise<unknown>, code: string): Promise<Llm2ClipError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a rejection').toBeInstanceOf(Llm2ClipError);
  expect((error as Llm2ClipError).code).toBe(code);
  return error as Llm2ClipError;
}

/** Runs `run`, expects it to throw an `Llm2ClipError` of `code`, and returns that error. */
export function syncError(run: () => unknown, code: string): Llm2ClipError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(Llm2ClipError);
    expect((error as Llm2ClipError).code).toBe(code);
    return error as Llm2ClipError;
  }
  throw new Error('expected a typed error');
}

import type { Sample } from '@llm2clip/core';
import { Rng } from '@llm2clip/core';
import { LlmTokenizer, type LlamaConfigInput } from '@llm2clip/llm';

const SPECIAL_TOKENS = ['<pad>', '<s>', '</s>', '<unk>', '<mask>'];
const COLORS = ['red', 'green', 'blue', 'yellow', 'white', 'black'];
const SHAPES = ['cube', 'ball', 'cone', 'ring', 'star'];
const SIZES = ['small', 'large', 'tiny'];
const RELATIONS = ['left', 'right', 'above', 'below', 'near'];
const WORDS = ['a', 'the', 'of', 'with', 'and', 'image', 'shows', 'there', 'is', 'picture', 'retrieve', 'caption', ':', ...COLORS, ...SHAPES, ...SIZES, ...RELATIONS];

/** `tokenizer.json` of {@link tinyTokenizer}: word-level WordPiece over the test vocabulary (`<s> $A` template). */
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

/** `tokenizer_config.json` of {@link tinyTokenizer}. */
export const TINY_TOKENIZER_CONFIG = { bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>' };

/** A word-level WordPiece tokenizer over the test vocabulary (`<s> $A` template), built in code. */
export function tinyTokenizer(): LlmTokenizer {
  return LlmTokenizer.fromJson(tinyTokenizerJson(), TINY_TOKENIZER_CONFIG);
}

/** Vocabulary size of {@link tinyTokenizer}. */
export const TINY_VOCAB = SPECIAL_TOKENS.length + WORDS.length;

/** A tiny Llama config (hidden 32, 2 layers, 4 heads, 2 kv heads) over the test vocabulary. */
export function tinyConfig(): LlamaConfigInput {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: TINY_VOCAB,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 128,
    tie_word_embeddings: false,
    hidden_act: 'silu',
    bos_token_id: 1,
    eos_token_id: 2,
    pad_token_id: 0,
  };
}

/** `count` synthetic samples with captions `[short, long, shortParaphrase, longParaphrase]`. */
export function tinySamples(count: number, seed = 0): Sample[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => {
    const color = rng.pick(COLORS);
    const shape = rng.pick(SHAPES);
    const size = rng.pick(SIZES);
    const relation = rng.pick(RELATIONS);
    const color2 = rng.pick(COLORS);
    const shape2 = rng.pick(SHAPES);
    return {
      key: `img-${i}`,
      image: { kind: 'raw', width: 1, height: 1, channels: 3, data: new Uint8Array(3) },
      captions: [
        `a ${color} ${shape}`,
        `the image shows a ${size} ${color} ${shape} ${relation} of a ${color2} ${shape2}`,
        `${color} ${shape}`,
        `there is a ${size} ${color} ${shape} and a ${color2} ${shape2} ${relation} of it`,
      ],
      captionKinds: ['short', 'long', 'short', 'long'],
    };
  });
}

/**
 * A stage-1 run's inputs on disk, in real formats: the tiny Llama in Hugging Face layout
 * (`config.json`, `model.safetensors`, `tokenizer.json`, `tokenizer_config.json`) under
 * `root/base`, and webdataset shards of captions under `root/data` (`train-000000.tar`,
 * `train-000001.tar`: 8 images each; `held-out.tar`: 6).
 */
export async function writeStage1Fixtures(root: string): Promise<void> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { LlamaModel } = await import('@llm2clip/llm');
  const { writeTarAtomic } = await import('@llm2clip/data');
  const model = LlamaModel.create(tinyConfig(), new Rng(1));
  await model.save(join(root, 'base'));
  model.dispose();
  await writeFile(join(root, 'base', 'tokenizer.json'), JSON.stringify(tinyTokenizerJson()));
  await writeFile(join(root, 'base', 'tokenizer_config.json'), JSON.stringify(TINY_TOKENIZER_CONFIG));
  await mkdir(join(root, 'data'), { recursive: true });
  const shard = async (path: string, seed: number, count: number) =>
    writeTarAtomic(
      path,
      tinySamples(count, seed).flatMap((s) => [
        { name: `${s.key}.png`, data: new Uint8Array([137, 80, 78, 71]) },
        { name: `${s.key}.json`, data: new TextEncoder().encode(JSON.stringify({ captions: s.captions, caption_kinds: s.captionKinds })) },
      ]),
    );
  await shard(join(root, 'data', 'train-000000.tar'), 1, 8);
  await shard(join(root, 'data', 'train-000001.tar'), 2, 8);
  await shard(join(root, 'data', 'held-out.tar'), 3, 6);
}

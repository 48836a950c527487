// The demo-size stage-1 workload the benches share: a WordPiece tokenizer of 300 tokens, a 4-layer
// Llama of width 128 (`DEMO_LLAMA_CONFIG`), and 256 samples with two short and two long captions of
// random words (seeded, so every process and rank builds the same data).
import { Rng } from '@llm2clip/core';
import { LlmTokenizer } from '@llm2clip/llm';

/** The special tokens, ids 0–4. */
export const SPECIAL_TOKENS = ['<pad>', '<s>', '</s>', '<unk>', '<mask>'];
const words = Array.from({ length: 295 }, (_, i) => `w${i}`);
const vocab = Object.fromEntries([...SPECIAL_TOKENS, ...words].map((t, i) => [t, i]));

/** The demo tokenizer (tokenizer.json content built in memory). */
export function demoTokenizer() {
  return LlmTokenizer.fromJson(
    {
      version: '1.0', truncation: null, padding: null,
      added_tokens: SPECIAL_TOKENS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: null, pre_tokenizer: { type: 'Whitespace' },
      post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: { type: 'WordPiece', unk_token: '<unk>', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
    },
    { bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>' },
  );
}

/** `count` samples (seeded) whose captions are random words of the demo vocabulary. */
export function demoSamples(count = 256) {
  const rng = new Rng(1);
  const sentence = (min, max) => Array.from({ length: rng.int(min, max) }, () => rng.pick(words)).join(' ');
  return Array.from({ length: count }, (_, i) => ({
    key: `s${i}`,
    image: { kind: 'raw', width: 1, height: 1, channels: 3, data: new Uint8Array(3) },
    captions: [sentence(8, 20), sentence(60, 189), sentence(8, 20), sentence(60, 189)],
    captionKinds: ['short', 'long', 'short', 'long'],
  }));
}

/** The demo Llama's `config.json` fields. */
export const DEMO_LLAMA_CONFIG = {
  model_type: 'llama', vocab_size: 300, hidden_size: 128, intermediate_size: 344, num_hidden_layers: 4,
  num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-5, rope_theta: 10000, max_position_embeddings: 256,
  tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2, pad_token_id: 0,
};


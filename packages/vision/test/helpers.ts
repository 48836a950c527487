import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGradientsRegistered } from '@llm2clip/tensor';

/** Switches tfjs to the reference cpu backend. */
export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
  await ensureGradientsRegistered();
}

/** A fresh temporary directory. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `llm2clip-vision-${prefix}-`));
}

/** A tiny ViT config for fast tests. */
export const TINY_VISION = {
  image_size: 16,
  patch_size: 8,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  projection_dim: 24,
} as const;

// ids as the synthetic dataset's tokenizer (eos 3: HF pools legacy eos_token_id 2 configs at argmax)
const SPECIAL = ['<pad>', '<unk>', '<s>', '</s>'];

/** A word-level `tokenizer.json` like the synthetic dataset's, over `words`. */
export function wordLevelTokenizerJson(words: readonly string[]): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  [...SPECIAL, ...words].forEach((word, id) => (vocab[word] = id));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
}

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Rng,
  embeddingMatrix,
  fingerprint,
  type EmbeddingMatrix,
  type ModelDescription,
  type RawImage,
  type Sample,
  type SampleIterationOptions,
  type SampleSource,
  type TextEmbedder,
} from '@llm2clip/core';
import { ensureGradientsRegistered } from '@llm2clip/tensor';

/** Switches tfjs to the reference cpu backend. */
export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
  await ensureGradientsRegistered();
}

/** A fresh temporary directory. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `llm2clip-trainer-${prefix}-`));
}

/** An in-memory {@link SampleSource} (shuffled per seed and epoch). */
export class ArraySource implements SampleSource {
  readonly name = 'array';
  constructor(private readonly items: readonly Sample[]) {}
  get size(): number {
    return this.items.length;
  }
  async *samples(options: SampleIterationOptions = {}): AsyncIterable<Sample> {
    const order = options.seed === undefined ? this.items.map((_, i) => i) : new Rng(options.seed * 31 + (options.epoch ?? 0)).permutation(this.items.length);
    for (const i of order) yield this.items[i];
  }
  [Symbol.asyncIterator](): AsyncIterator<Sample> {
    return this.samples()[Symbol.asyncIterator]();
  }
  shard(index: number, count: number): SampleSource {
    return new ArraySource(this.items.filter((_, i) => i % count === index));
  }
}

const COLOURS: Array<[string, [number, number, number]]> = [
  ['red', [220, 30, 30]],
  ['green', [30, 200, 40]],
  ['blue', [30, 40, 220]],
  ['yellow', [230, 220, 30]],
  ['purple', [150, 30, 160]],
  ['cyan', [30, 200, 210]],
  ['white', [240, 240, 240]],
  ['black', [15, 15, 15]],
];
const SHAPES = ['square', 'stripe'];

function drawImage(colour: [number, number, number], shape: string, size: number): RawImage {
  const data = new Uint8Array(size * size * 3).fill(110);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = shape === 'square' ? x >= size / 4 && x < (3 * size) / 4 && y >= size / 4 && y < (3 * size) / 4 : y >= size / 3 && y < (2 * size) / 3;
      if (inside) data.set(colour, (y * size + x) * 3);
    }
  }
  return { kind: 'raw', width: size, height: size, channels: 3, data };
}

/** `count` synthetic samples: a coloured shape, four captions (short, long and paraphrases). */
export function syntheticSamples(count: number, size = 16, shardSize?: number): Sample[] {
  return Array.from({ length: count }, (_, i) => {
    const [name, rgb] = COLOURS[i % COLOURS.length];
    const shape = SHAPES[Math.floor(i / COLOURS.length) % SHAPES.length];
    return {
      key: String(i).padStart(6, '0'),
      image: drawImage(rgb, shape, size),
      captions: [
        `a ${name} ${shape}`,
        `a picture of a ${name} ${shape} on a grey background in the middle`,
        `${name} ${shape}`,
        `the image shows one ${name} ${shape} placed on a plain grey background`,
      ],
      captionKinds: ['short', 'long', 'short', 'long'],
      meta: shardSize !== undefined ? { shard: `train-${String(Math.floor(i / shardSize)).padStart(6, '0')}.tar` } : undefined,
    };
  });
}

/** A deterministic bag-of-words teacher: the mean of seeded random word vectors. */
export class BagOfWordsEmbedder implements TextEmbedder {
  readonly dim: number;
  calls = 0;
  private readonly vectors = new Map<string, Float32Array>();
  constructor(dim = 24, private readonly seed = 0) {
    this.dim = dim;
  }
  private vector(word: string): Float32Array {
    let v = this.vectors.get(word);
    if (v === undefined) {
      let hash = this.seed;
      for (const ch of word) hash = (Math.imul(hash, 31) + ch.charCodeAt(0)) | 0;
      v = new Rng(hash).normalArray(this.dim);
      this.vectors.set(word, v);
    }
    return v;
  }
  async embed(texts: readonly string[]): Promise<EmbeddingMatrix> {
    this.calls += 1;
    const out = new Float32Array(texts.length * this.dim);
    texts.forEach((text, row) => {
      const words = text.toLowerCase().split(/\s+/).filter((w) => w.length > 0);
      for (const word of words) {
        const v = this.vector(word);
        for (let d = 0; d < this.dim; d++) out[row * this.dim + d] += v[d] / words.length;
      }
    });
    return embeddingMatrix(texts.length, this.dim, out);
  }
  describe(): ModelDescription {
    return { name: 'bag-of-words', fingerprint: fingerprint('bow', this.dim, this.seed), details: { pooling: 'mean' } };
  }
}

/** A tiny ViT config for fast tests. */
export const TINY_VISION = {
  image_size: 16,
  patch_size: 8,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  projection_dim: 16,
} as const;

const SPECIAL = ['<pad>', '<s>', '</s>', '<unk>'];

/** A word-level `tokenizer.json` over `words`, like the synthetic dataset's. */
export function wordLevelTokenizerJson(words: readonly string[]): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  [...SPECIAL, ...words].forEach((word, id) => (vocab[word] = id));
  return {
    version: '1.0',
    added_tokens: SPECIAL.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
}

/** Every word of the synthetic captions. */
export function captionWords(samples: readonly Sample[]): string[] {
  return [...new Set(samples.flatMap((s) => s.captions.flatMap((c) => c.toLowerCase().split(/\s+/))))].sort();
}

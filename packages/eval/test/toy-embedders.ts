// Tiny deterministic embedders used by the tests: real implementations of the core interfaces,
// small enough that their similarities can be worked out by hand.
import {
  Llm2ClipError,
  embeddingMatrix,
  fingerprint,
  type EmbeddingMatrix,
  type ImageEmbedder,
  type ImageRef,
  type ModelDescription,
  type RawImage,
  type Sample,
  type TextEmbedder,
} from '@llm2clip/core';

/** The shared word space of both toy embedders. */
export const VOCABULARY = ['red', 'green', 'blue', 'yellow', 'circle', 'square', 'triangle', 'small', 'big'] as const;

export const COLORS: Record<string, readonly [number, number, number]> = {
  red: [255, 0, 0],
  green: [0, 255, 0],
  blue: [0, 0, 255],
  yellow: [255, 255, 0],
};
export const SHAPES = ['circle', 'square', 'triangle'] as const;

/** Counts vocabulary words in each text (other words are ignored). */
export class BagOfWordsTextEmbedder implements TextEmbedder {
  readonly dim = VOCABULARY.length;
  calls = 0;

  async embed(texts: readonly string[]): Promise<EmbeddingMatrix> {
    this.calls++;
    const data = new Float32Array(texts.length * this.dim);
    texts.forEach((text, row) => {
      for (const word of text.toLowerCase().split(/[^a-z]+/)) {
        const slot = VOCABULARY.indexOf(word as (typeof VOCABULARY)[number]);
        if (slot >= 0) data[row * this.dim + slot] += 1;
      }
    });
    return embeddingMatrix(texts.length, this.dim, data);
  }

  describe(): ModelDescription {
    return { name: 'bag-of-words', fingerprint: fingerprint(VOCABULARY) };
  }
}

/**
 * A 2×1 RGB image: pixel 0 has the colour, the red channel of pixel 1 the shape index.
 */
export function toyImage(color: string, shape: (typeof SHAPES)[number]): RawImage {
  const rgb = COLORS[color];
  return { kind: 'raw', width: 2, height: 1, channels: 3, data: Uint8Array.from([...rgb, SHAPES.indexOf(shape), 0, 0]) };
}

/** Reads colour and shape from a {@link toyImage}; `colorBlind` sees green as red. */
export class PixelLabelImageEmbedder implements ImageEmbedder {
  readonly dim = VOCABULARY.length;
  calls = 0;
  embedded = 0;

  constructor(private readonly colorBlind = false) {}

  async embed(images: readonly ImageRef[]): Promise<EmbeddingMatrix> {
    this.calls++;
    this.embedded += images.length;
    const data = new Float32Array(images.length * this.dim);
    images.forEach((image, row) => {
      if (image.kind !== 'raw') throw new Llm2ClipError('E_DATA', 'toy embedder reads raw images only');
      const [r, g, b] = image.data;
      let color = Object.keys(COLORS).find((name) => {
        const [cr, cg, cb] = COLORS[name];
        return cr === r && cg === g && cb === b;
      });
      if (color === undefined) throw new Llm2ClipError('E_DATA', `unknown colour ${r},${g},${b}`);
      if (this.colorBlind && color === 'green') color = 'red';
      const shape = SHAPES[image.data[3]];
      data[row * this.dim + VOCABULARY.indexOf(color as (typeof VOCABULARY)[number])] = 1;
      data[row * this.dim + VOCABULARY.indexOf(shape)] = 1;
    });
    return embeddingMatrix(images.length, this.dim, data);
  }

  describe(): ModelDescription {
    return { name: this.colorBlind ? 'pixel-label (colour-blind)' : 'pixel-label', fingerprint: fingerprint('pixel', this.colorBlind) };
  }
}

/** A sample with one short and one long caption. */
export function toySample(key: string, color: string, shape: (typeof SHAPES)[number], short: string, long: string): Sample {
  return { key, image: toyImage(color, shape), captions: [short, long], captionKinds: ['short', 'long'] };
}

/** Builds a matrix from literal rows. */
export function rows(values: readonly (readonly number[])[]): EmbeddingMatrix {
  const dim = values.length === 0 ? 0 : values[0].length;
  return embeddingMatrix(values.length, dim, Float32Array.from(values.flat()));
}

/** Random matrix with entries from `levels` (to force ties) or uniform in [-1, 1). */
export function randomRows(count: number, dim: number, seed: number, levels?: readonly number[]): EmbeddingMatrix {
  let state = seed >>> 0 || 1;
  const next = (): number => {
    // xorshift32: deterministic, good enough for test data
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
  const data = new Float32Array(count * dim);
  for (let i = 0; i < data.length; i++) {
    data[i] = levels === undefined ? next() * 2 - 1 : levels[Math.floor(next() * levels.length)];
  }
  return embeddingMatrix(count, dim, data);
}

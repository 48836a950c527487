import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError, type EmbeddingStore, type Rng } from '@llm2clip/core';
import type { ParameterStore } from '@llm2clip/tensor';
import type { ClipTextModel, ClipTextTokenizer } from '@llm2clip/vision';
import { checkCacheCoverage } from './embedding-cache.js';
import type { TextAdapter } from './adapter.js';

/** What the trainer knows of a sample apart from its image. */
export interface CaptionedSample {
  readonly key: string;
  readonly captions: readonly string[];
  readonly captionKinds?: readonly string[];
}

/**
 * LLM2CLIP's caption sampling: with p = 0.5 a `short` caption, else a `long` one (uniformly among
 * captions of that kind, so paraphrases count); uniform over all captions when the kinds are
 * unknown or one kind is absent. Returns the caption index.
 */
export function chooseCaption(sample: CaptionedSample, rng: Rng, kinds: readonly string[] | undefined = sample.captionKinds): number {
  const count = sample.captions.length;
  if (count === 0) throw new Llm2ClipError('E_DATA', 'sample has no captions', { key: sample.key });
  if (kinds !== undefined && kinds.length === count) {
    const short: number[] = [];
    const long: number[] = [];
    kinds.forEach((kind, i) => (kind === 'short' ? short : kind === 'long' ? long : undefined)?.push(i));
    if (short.length > 0 && long.length > 0) return rng.pick(rng.bernoulli(0.5) ? short : long);
  }
  return rng.int(0, count - 1);
}

/**
 * The text half of a CLIP training step, so LLM2CLIP and the baseline share one loop: `prepare`
 * turns the chosen captions into an input tensor (host work, outside the gradient), `forward`
 * maps it to `[batch, dim]` features inside the gradient.
 */
export interface TextSide {
  /** `llm2clip` (cached LLM embeddings → adapter) or `baseline` (CLIP text tower). */
  readonly kind: 'llm2clip' | 'baseline';
  /** Output dimension (must equal the vision projection dim). */
  readonly dim: number;
  /** Trainable weights of this side. */
  readonly stores: ParameterStore[];
  /** Throws `E_MISMATCH` when the side cannot serve these samples (missing keys, wrong dim). */
  check(samples: Iterable<CaptionedSample>): void;
  /** The input tensor for `samples[i]`'s caption `choices[i]` (caller owns it). */
  prepare(samples: readonly CaptionedSample[], choices: readonly number[]): tf.Tensor;
  /** Features `[batch, dim]` of a prepared input (caller owns them). */
  forward(input: tf.Tensor): tf.Tensor2D;
}

/** LLM2CLIP's text side: rows of the embedding cache through the {@link TextAdapter}. */
export class CachedEmbeddingTextSide implements TextSide {
  readonly kind = 'llm2clip' as const;
  /** The cache of frozen-LLM caption embeddings. */
  readonly cache: EmbeddingStore;
  /** The trainable adapter. */
  readonly adapter: TextAdapter;

  constructor(cache: EmbeddingStore, adapter: TextAdapter) {
    this.cache = cache;
    this.adapter = adapter;
  }

  get dim(): number {
    return this.adapter.dim;
  }

  get stores(): ParameterStore[] {
    return [this.adapter.parameters];
  }

  check(samples: Iterable<CaptionedSample>): void {
    checkCacheCoverage(this.cache, samples, this.adapter.config.inputDim);
  }

  prepare(samples: readonly CaptionedSample[], choices: readonly number[]): tf.Tensor {
    const dim = this.cache.dim;
    const out = new Float32Array(samples.length * dim);
    samples.forEach((sample, i) => {
      const entry = this.cache.get(sample.key);
      if (entry === undefined) throw new Llm2ClipError('E_MISMATCH', 'sample key is not in the embedding cache', { key: sample.key });
      out.set(entry.embeddings.data.subarray(choices[i] * dim, (choices[i] + 1) * dim), i * dim);
    });
    return tf.tensor2d(out, [samples.length, dim], 'float32');
  }

  forward(input: tf.Tensor): tf.Tensor2D {
    return this.adapter.forward(input as tf.Tensor2D);
  }
}

/**
 * The baseline text side: the CLIP text tower (77-token context), trained jointly. Each batch is
 * trimmed to its longest caption (exact under the causal mask with end-token pooling).
 */
export class ClipTowerTextSide implements TextSide {
  readonly kind = 'baseline' as const;
  /** The text tower. */
  readonly model: ClipTextModel;
  /** Its tokenizer. */
  readonly tokenizer: ClipTextTokenizer;

  constructor(model: ClipTextModel, tokenizer: ClipTextTokenizer) {
    if (tokenizer.eosTokenId !== model.config.eos_token_id) {
      throw new Llm2ClipError('E_MISMATCH', `tokenizer end token ${tokenizer.eosTokenId} differs from the text config's eos_token_id ${model.config.eos_token_id}`, { field: 'eos_token_id' });
    }
    if (tokenizer.vocabSize > model.config.vocab_size) {
      throw new Llm2ClipError('E_MISMATCH', `tokenizer has ${tokenizer.vocabSize} ids, the text tower's vocab_size is ${model.config.vocab_size}`, { field: 'vocab_size' });
    }
    if (tokenizer.contextLength > model.config.max_position_embeddings) {
      throw new Llm2ClipError('E_MISMATCH', `tokenizer context ${tokenizer.contextLength} exceeds max_position_embeddings ${model.config.max_position_embeddings}`, { field: 'max_position_embeddings' });
    }
    this.model = model;
    this.tokenizer = tokenizer;
  }

  get dim(): number {
    return this.model.dim;
  }

  get stores(): ParameterStore[] {
    return [this.model.parameters];
  }

  check(samples: Iterable<CaptionedSample>): void {
    for (const sample of samples) {
      if (sample.captions.length === 0) throw new Llm2ClipError('E_DATA', 'sample has no captions', { key: sample.key });
    }
  }

  prepare(samples: readonly CaptionedSample[], choices: readonly number[]): tf.Tensor {
    return this.tokenizer.encodeToTensor(samples.map((sample, i) => sample.captions[choices[i]]), { trim: true });
  }

  forward(input: tf.Tensor): tf.Tensor2D {
    return this.model.forward(input as tf.Tensor2D);
  }
}

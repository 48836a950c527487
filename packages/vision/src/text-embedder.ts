import { embeddingMatrix, fingerprint, type EmbedOptions, type EmbeddingMatrix, type ModelDescription, type TextEmbedder } from '@llm2clip/core';
import type { ClipTextModel } from './clip-text.js';
import type { ClipTextTokenizer } from './clip-tokenizer.js';

/** Options of {@link ClipTextEmbedder}. */
export interface ClipTextEmbedderOptions {
  /** Captions per forward pass when `embed` is not told otherwise. Default 64. */
  batchSize?: number;
  /** Name in reports. Default `clip-text`. */
  name?: string;
}

/**
 * A {@link TextEmbedder} over the CLIP text tower: tokenise to the 77-token context, forward,
 * projected features as rows (not normalised). Does not own the model or the tokenizer.
 */
export class ClipTextEmbedder implements TextEmbedder {
  private readonly model: ClipTextModel;
  private readonly tokenizer: ClipTextTokenizer;
  private readonly batchSize: number;
  private readonly name: string;

  constructor(model: ClipTextModel, tokenizer: ClipTextTokenizer, options: ClipTextEmbedderOptions = {}) {
    this.model = model;
    this.tokenizer = tokenizer;
    this.batchSize = Math.max(1, options.batchSize ?? 64);
    this.name = options.name ?? 'clip-text';
  }

  /** Output dimension (`projection_dim`). */
  get dim(): number {
    return this.model.dim;
  }

  /** Embeds `texts` batch by batch; row i belongs to `texts[i]`. */
  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<EmbeddingMatrix> {
    const batchSize = Math.max(1, options.batchSize ?? this.batchSize);
    const dim = this.dim;
    const out = new Float32Array(texts.length * dim);
    for (let start = 0; start < texts.length; start += batchSize) {
      const ids = this.tokenizer.encodeToTensor(texts.slice(start, start + batchSize), { trim: true });
      try {
        const features = this.model.forward(ids);
        out.set(await features.data() as Float32Array, start * dim);
        features.dispose();
      } finally {
        ids.dispose();
      }
      options.onProgress?.(Math.min(texts.length, start + batchSize), texts.length);
    }
    return embeddingMatrix(texts.length, dim, out);
  }

  /** Name, fingerprint of weights + config + context length, and architecture facts. */
  describe(): ModelDescription {
    const c = this.model.config;
    return {
      name: this.name,
      fingerprint: fingerprint(this.model.fingerprint(), this.tokenizer.contextLength),
      details: { architecture: 'CLIPTextModelWithProjection', contextLength: this.tokenizer.contextLength, hiddenSize: c.hidden_size, layers: c.num_hidden_layers, projectionDim: c.projection_dim },
    };
  }
}

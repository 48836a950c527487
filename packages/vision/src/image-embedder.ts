import * as tf from '@tensorflow/tfjs-core';
import { embeddingMatrix, fingerprint, type EmbedOptions, type EmbeddingMatrix, type ImageEmbedder, type ImageRef, type ModelDescription } from '@llm2clip/core';
import type { ClipVisionModel } from './vit.js';
import { Eva02VisionModel } from './eva-vit.js';
import type { ImagePreprocessor } from './preprocess.js';

/** Options of {@link ClipImageEmbedder}. */
export interface ClipImageEmbedderOptions {
  /** Images per forward pass when `embed` is not told otherwise. Default 32. */
  batchSize?: number;
  /** Name in reports. Default `clip-vit`. */
  name?: string;
}

/**
 * An {@link ImageEmbedder} over a {@link ClipVisionModel} or an {@link Eva02VisionModel}: evaluation preprocessing (shortest-edge
 * resize, center crop, normalise), forward in batches, projected features as rows (not
 * normalised). The embedder does not own the model; dispose the model yourself.
 */
export class ClipImageEmbedder implements ImageEmbedder {
  private readonly model: ClipVisionModel | Eva02VisionModel;
  private readonly preprocessor: ImagePreprocessor;
  private readonly batchSize: number;
  private readonly name: string;

  constructor(model: ClipVisionModel | Eva02VisionModel, preprocessor: ImagePreprocessor, options: ClipImageEmbedderOptions = {}) {
    this.model = model;
    this.preprocessor = preprocessor;
    this.batchSize = Math.max(1, options.batchSize ?? 32);
    this.name = options.name ?? 'clip-vit';
  }

  /** Output dimension (`projection_dim`). */
  get dim(): number {
    return this.model.dim;
  }

  /** Embeds `images` batch by batch; row i belongs to `images[i]`. */
  async embed(images: readonly ImageRef[], options: EmbedOptions = {}): Promise<EmbeddingMatrix> {
    const batchSize = Math.max(1, options.batchSize ?? this.batchSize);
    const dim = this.dim;
    const out = new Float32Array(images.length * dim);
    for (let start = 0; start < images.length; start += batchSize) {
      const chunk = images.slice(start, start + batchSize);
      const pixels = await this.preprocessor.preprocessBatch(chunk);
      try {
        const features = this.model.forward(pixels);
        out.set(await features.data() as Float32Array, start * dim);
        features.dispose();
      } finally {
        pixels.dispose();
      }
      options.onProgress?.(Math.min(images.length, start + batchSize), images.length);
    }
    return embeddingMatrix(images.length, dim, out);
  }

  /** Name, fingerprint of weights + config + preprocessing, and architecture facts. */
  describe(): ModelDescription {
    const c = this.model.config;
    return {
      name: this.name,
      fingerprint: fingerprint(this.model.fingerprint(), this.preprocessor.describe()),
      details: {
        architecture: this.model instanceof Eva02VisionModel ? 'EVA02' : 'CLIPVisionModelWithProjection',
        imageSize: c.image_size,
        patchSize: c.patch_size,
        hiddenSize: c.hidden_size,
        layers: c.num_hidden_layers,
        projectionDim: c.projection_dim,
        backend: tf.getBackend(),
      },
    };
  }
}

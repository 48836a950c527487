import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { Llm2ClipError, writeJsonAtomic, fingerprint, type Rng } from '@llm2clip/core';
import { ParameterStore, normalInit, zerosInit, linear, writeSafetensors, type HostTensor } from '@llm2clip/tensor';
import { parseClipVisionConfig, type ClipVisionConfig, type ClipVisionConfigInput } from './config.js';
import { addEncoderParameters, addLayerNorm, type WeightInit, applyLayerNorm, encoderForward } from './encoder.js';
import { readConfigJson, readModelWeights } from './hf-weights.js';

const PROJECTION = 'visual_projection.weight';

/** True for the tensor names a `CLIPVisionModelWithProjection` checkpoint holds (buffers excluded). */
function isVisionWeight(name: string): boolean {
  return (name.startsWith('vision_model.') || name === PROJECTION) && !name.endsWith('.position_ids');
}

/**
 * The CLIP ViT image tower with its projection head, weights named as in Hugging Face's
 * `CLIPVisionModelWithProjection`: patch embedding (a bias-free `[hidden, 3, p, p]` convolution,
 * computed here as a reshape plus one matmul), class token, learned positions, `pre_layrnorm`,
 * pre-LN encoder blocks, `post_layernorm` on the class token, then `visual_projection`.
 *
 * @example
 * ```ts
 * const vit = ClipVisionModel.create({ image_size: 64, patch_size: 8, hidden_size: 128,
 *   intermediate_size: 512, num_hidden_layers: 4, num_attention_heads: 4, projection_dim: 128 }, new Rng(0));
 * const features = vit.forward(pixels); // [batch, 128], caller disposes
 * await vit.save('runs/vit');
 * ```
 */
export class ClipVisionModel {
  private configValue: ClipVisionConfig;
  private storeValue: ParameterStore;

  private constructor(config: ClipVisionConfig, store: ParameterStore) {
    this.configValue = config;
    this.storeValue = store;
  }

  /** The architecture (its `projection_dim` follows {@link resetProjection}). */
  get config(): ClipVisionConfig {
    return this.configValue;
  }

  /** The named weights (Hugging Face names). Replaced by {@link resetProjection}. */
  get parameters(): ParameterStore {
    return this.storeValue;
  }

  /** Output dimension (`projection_dim`). */
  get dim(): number {
    return this.configValue.projection_dim;
  }

  /** Number of patch tokens (the sequence is one longer, for the class token). */
  get numPatches(): number {
    return (this.configValue.image_size / this.configValue.patch_size) ** 2;
  }

  /** A randomly initialised tower (Hugging Face's CLIP initialisation), drawing from `rng`. */
  static create(config: ClipVisionConfigInput, rng: Rng): ClipVisionModel {
    return ClipVisionModel.build(parseClipVisionConfig(config), (shape, std) => normalInit(rng, shape, std));
  }

  private static build(parsed: ClipVisionConfig, init: WeightInit): ClipVisionModel {
    const store = new ParameterStore();
    const { hidden_size: hidden, patch_size: patch, num_channels: channels, initializer_range: range, initializer_factor: factor } = parsed;
    const positions = (parsed.image_size / patch) ** 2 + 1;
    store.add('vision_model.embeddings.class_embedding', init([hidden], hidden ** -0.5 * factor));
    store.add('vision_model.embeddings.patch_embedding.weight', init([hidden, channels, patch, patch], range * factor));
    store.add('vision_model.embeddings.position_embedding.weight', init([positions, hidden], range * factor));
    addLayerNorm(store, 'vision_model.pre_layrnorm', hidden);
    addEncoderParameters(store, 'vision_model.encoder', parsed, init);
    addLayerNorm(store, 'vision_model.post_layernorm', hidden);
    store.add(PROJECTION, init([parsed.projection_dim, hidden], hidden ** -0.5 * factor));
    return new ClipVisionModel(parsed, store);
  }

  /**
   * Loads a tower from a Hugging Face directory: `config.json` (a `CLIPVisionConfig`, or a
   * `CLIPConfig` with `vision_config`) and `model.safetensors` (or a sharded index). Text-tower
   * tensors of a full CLIP checkpoint are skipped; a missing vision tensor is an `E_MISMATCH` and a
   * mis-shaped one an `E_SHAPE`, each naming the tensor and the file.
   */
  static async fromPretrained(dir: string): Promise<ClipVisionModel> {
    const config = parseClipVisionConfig(await readConfigJson(dir), join(dir, 'config.json'));
    const { tensors, path } = await readModelWeights(dir);
    const vision = new Map<string, HostTensor>([...tensors].filter(([name]) => isVisionWeight(name)));
    const projection = vision.get(PROJECTION);
    if (projection !== undefined) config.projection_dim = projection.shape[0];
    // a zero skeleton (no generator needed): every weight is overwritten below
    const model = ClipVisionModel.build(config, (shape) => zerosInit(shape));
    try {
      model.storeValue.loadHost(vision, { strict: true, path });
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  }

  /**
   * Writes `config.json` (`CLIPVisionConfig`, `architectures: ['CLIPVisionModelWithProjection']`)
   * and `model.safetensors` into `dir`, each atomically, weights first.
   */
  async save(dir: string): Promise<void> {
    await writeSafetensors(join(dir, 'model.safetensors'), this.storeValue.toHost(), { format: 'pt' });
    await writeJsonAtomic(join(dir, 'config.json'), {
      architectures: ['CLIPVisionModelWithProjection'],
      model_type: 'clip_vision_model',
      torch_dtype: 'float32',
      attention_dropout: 0,
      dropout: 0,
      ...this.configValue,
    });
  }

  /**
   * Image features `[batch, projection_dim]` of `pixels` `[batch, 3, image_size, image_size]`
   * (normalised, CHW). The caller owns the result.
   */
  forward(pixels: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => linear(this.pooledOutput(pixels), this.storeValue.get(PROJECTION)) as tf.Tensor2D);
  }

  /** The post-LN class-token state `[batch, hidden]` (before the projection). The caller owns it. */
  pooledOutput(pixels: tf.Tensor4D): tf.Tensor2D {
    const c = this.configValue;
    const [batch, channels, height, width] = pixels.shape;
    if (channels !== c.num_channels || height !== c.image_size || width !== c.image_size) {
      throw new Llm2ClipError('E_SHAPE', `expected pixels [batch, ${c.num_channels}, ${c.image_size}, ${c.image_size}], got [${pixels.shape}]`, { field: 'pixels' });
    }
    return tf.tidy(() => {
      const store = this.storeValue;
      const hidden = c.hidden_size;
      const patchEmbeddings = this.patchEmbeddings(pixels);
      const classToken = tf.tile(tf.reshape(store.get('vision_model.embeddings.class_embedding'), [1, 1, hidden]), [batch, 1, 1]);
      let h: tf.Tensor = tf.concat([classToken, patchEmbeddings], 1);
      h = tf.add(h, store.get('vision_model.embeddings.position_embedding.weight'));
      h = applyLayerNorm(store, 'vision_model.pre_layrnorm', h, c.layer_norm_eps);
      const encoded = encoderForward(store, 'vision_model.encoder', h as tf.Tensor3D, c);
      const cls = tf.reshape(tf.slice(encoded, [0, 0, 0], [batch, 1, hidden]), [batch, hidden]);
      return applyLayerNorm(store, 'vision_model.post_layernorm', cls, c.layer_norm_eps) as tf.Tensor2D;
    });
  }

  /**
   * The patch embeddings `[batch, patches, hidden]` (row-major patch order, no class token or
   * positions): HF's stride-p bias-free `Conv2d`, computed as one matmul. The caller owns the result.
   */
  patchEmbeddings(pixels: tf.Tensor4D): tf.Tensor3D {
    const c = this.configValue;
    const [batch, channels] = pixels.shape;
    return tf.tidy(() => {
      const hidden = c.hidden_size;
      const p = c.patch_size;
      const grid = c.image_size / p;
      const patches = grid * grid;
      // cut [B,C,gh·p,gw·p] into [B·N, C·p·p] rows ordered (c, ph, pw) like the flattened conv
      // kernel, using only rank-4 transposes (which every backend has)
      let x: tf.Tensor = tf.reshape(pixels, [batch * channels * grid, p, grid, p]);
      x = tf.transpose(x, [0, 2, 1, 3]);
      x = tf.reshape(x, [batch, channels, patches, p * p]);
      x = tf.transpose(x, [0, 2, 1, 3]);
      x = tf.reshape(x, [batch * patches, channels * p * p]);
      const kernel = tf.reshape(this.storeValue.get('vision_model.embeddings.patch_embedding.weight'), [hidden, channels * p * p]);
      return tf.reshape(tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D, false, true), [batch, patches, hidden]) as tf.Tensor3D;
    });
  }

  /**
   * Replaces the projection head by a fresh `[dim, hidden]` one drawn from `rng` (LLM2CLIP trains a
   * new head against the LLM's embedding space). Other weights are kept.
   */
  resetProjection(dim: number, rng: Rng): void {
    if (!Number.isInteger(dim) || dim <= 0) throw new Llm2ClipError('E_CONFIG', `projection dim must be a positive integer, got ${dim}`, { field: 'projection_dim' });
    const hidden = this.configValue.hidden_size;
    this.storeValue.replace(PROJECTION, normalInit(rng, [dim, hidden], hidden ** -0.5 * this.configValue.initializer_factor));
    this.configValue = { ...this.configValue, projection_dim: dim };
  }

  /** Stable hash of the config and every weight. */
  fingerprint(): string {
    return fingerprint(this.configValue, this.storeValue.fingerprint());
  }

  /** Frees the weights. */
  dispose(): void {
    this.storeValue.dispose();
  }
}

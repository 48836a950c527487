import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { Llm2ClipError, Rng, writeJsonAtomic, fingerprint } from '@llm2clip/core';
import { ParameterStore, normalInit, zerosInit, linear, readSafetensors, writeSafetensors, type HostTensor } from '@llm2clip/tensor';
import { clipVisionParameterCount, parseClipVisionConfig, type ClipVisionConfig, type ClipVisionConfigInput } from './config.js';
import { addEncoderParameters, addLayerNorm, type WeightInit, applyLayerNorm, encoderForward } from './encoder.js';
import { fileExists } from './hf-weights.js';
import { pickleCheckpointError, pickleCheckpointsIn, readCheckedModelWeights, readModelConfigJson, refusePickleFile, refuseUndersizedWeights, requireSafetensorsFile } from './model-files.js';
import { OPEN_CLIP_CONFIG, OPEN_CLIP_WEIGHTS, isEvaModelConfig, openClipVisionConfig, openClipVisionToHf } from './open-clip.js';
import { resizePositionEmbedding, type PositionInterpolation } from './position-embedding.js';
import { applyLock, lockGroups, type LockGroups } from './layer-groups.js';
import { saveCompanion, type Companion } from './companion.js';
import { patchEmbed } from './patchify.js';
import type { ImagePreprocessor } from './preprocess.js';

/** Options of {@link ClipVisionModel.fromPretrained}. */
export interface ClipVisionLoadOptions {
  /**
   * Build the tower for this input size instead of the checkpoint's: the learned positions are
   * resized to the new patch grid (see {@link PositionInterpolation}).
   */
  imageSize?: number;
  /** How positions are resized: default `'open_clip'` for open_clip checkpoints, `'hf'` for Hugging Face ones. */
  positionInterpolation?: PositionInterpolation;
  /** Draws the fresh projection of a `CLIPVisionModel` checkpoint (which has none). Default `new Rng(0)`. */
  rng?: Rng;
}

/** Options of {@link ClipVisionModel.save}. */
export interface ClipVisionSaveOptions {
  /** Also write `preprocessor_config.json` (`CLIPImageProcessor`) for this preprocessing. */
  preprocessor?: ImagePreprocessor;
  /** Extra weights saved beside the tower, each in `dir/<name>/` (e.g. `{ llm2clip_adapter: … }`). */
  companions?: Record<string, Companion>;
}

const PROJECTION = 'visual_projection.weight';
const POSITIONS = 'vision_model.embeddings.position_embedding.weight';

/** True for the tensor names a `CLIPVisionModelWithProjection` checkpoint holds (buffers excluded). */
function isVisionWeight(name: string): boolean {
  return (name.startsWith('vision_model.') || name === PROJECTION) && !name.endsWith('.position_ids');
}

/**
 * The CLIP ViT image tower (OpenAI CLIP, OpenCLIP) with its projection head, weights named as in
 * Hugging Face's `CLIPVisionModelWithProjection` (open_clip checkpoints are renamed on load): patch embedding (a bias-free `[hidden, 3, p, p]` convolution,
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
   * Loads a tower from a checkpoint directory, in either layout:
   * - Hugging Face: `config.json` (a `CLIPVisionConfig`, or a `CLIPConfig` with `vision_config`,
   *   as `CLIPVisionModel`, `CLIPVisionModelWithProjection` and `CLIPModel` save) and
   *   `model.safetensors` (or a sharded index). Text-tower tensors are skipped. A checkpoint
   *   without `visual_projection.weight` (`CLIPVisionModel`) gets a fresh projection
   *   (`projection_dim` wide, drawn from `rng`, default seed 0) — replace it for training anyway.
   * - open_clip: `open_clip_config.json` + `open_clip_model.safetensors` (`visual.*` names,
   *   converted by {@link openClipVisionToHf}).
   *
   * A missing tensor is an `E_MISMATCH` and a mis-shaped one an `E_SHAPE`, each naming the tensor
   * and the file. With `imageSize`, positions are resized to the new grid.
   */
  static async fromPretrained(dir: string, options: ClipVisionLoadOptions = {}): Promise<ClipVisionModel> {
    // a pickle checkpoint given instead of a directory
    refusePickleFile(dir);
    let config: ClipVisionConfig;
    let vision: Map<string, HostTensor>;
    let path: string;
    let interpolation: PositionInterpolation = 'hf';
    if (await fileExists(join(dir, 'config.json'))) {
      const json = await readModelConfigJson(dir);
      if (typeof (json as { architecture?: unknown }).architecture === 'string') {
        throw new Llm2ClipError('E_FORMAT', 'config.json is a timm model config; load EVA towers with Eva02VisionModel or loadVisionTower', { path: join(dir, 'config.json'), field: 'architecture' });
      }
      config = parseClipVisionConfig(json, join(dir, 'config.json'));
      const weights = await readCheckedModelWeights(dir);
      path = weights.path;
      vision = new Map<string, HostTensor>([...weights.tensors].filter(([name]) => isVisionWeight(name)));
    } else if (await fileExists(join(dir, OPEN_CLIP_CONFIG))) {
      const configPath = join(dir, OPEN_CLIP_CONFIG);
      const json = await readModelConfigJson(dir, OPEN_CLIP_CONFIG);
      if (isEvaModelConfig(json)) throw new Llm2ClipError('E_FORMAT', 'this open_clip config describes an EVA tower; load it with Eva02VisionModel or loadVisionTower', { path: configPath, field: 'model_cfg.vision_cfg.eva_model_name' });
      config = parseClipVisionConfig(openClipVisionConfig(json, configPath), configPath);
      path = await requireSafetensorsFile(dir, OPEN_CLIP_WEIGHTS);
      vision = openClipVisionToHf((await readSafetensors(path)).tensors, path);
      interpolation = 'open_clip';
    } else {
      const pickles = await pickleCheckpointsIn(dir);
      if (pickles.length > 0) throw pickleCheckpointError(join(dir, pickles[0]));
      throw new Llm2ClipError('E_NOT_FOUND', `no config.json or ${OPEN_CLIP_CONFIG}`, { path: dir });
    }
    const projection = vision.get(PROJECTION);
    if (projection !== undefined) config.projection_dim = projection.shape[0];
    if (options.imageSize !== undefined && options.imageSize !== config.image_size) {
      const imageSize = options.imageSize;
      if (!Number.isInteger(imageSize) || imageSize % config.patch_size !== 0) {
        throw new Llm2ClipError('E_CONFIG', `imageSize ${imageSize} is not a multiple of patch_size ${config.patch_size}`, { field: 'imageSize' });
      }
      const table = vision.get(POSITIONS);
      if (table !== undefined) vision.set(POSITIONS, resizePositionEmbedding(table, imageSize / config.patch_size, options.positionInterpolation ?? interpolation));
      config = { ...config, image_size: imageSize };
    }
    // nothing is allocated for a config that asks for more weights than the file holds
    refuseUndersizedWeights(clipVisionParameterCount(config), projection === undefined ? config.projection_dim * config.hidden_size : 0, vision, path);
    // a zero skeleton: every weight is overwritten below (a missing projection gets a fresh one)
    const model = ClipVisionModel.build(config, (shape) => zerosInit(shape));
    try {
      if (projection === undefined) {
        const hidden = config.hidden_size;
        model.storeValue.replace(PROJECTION, normalInit(options.rng ?? new Rng(0), [config.projection_dim, hidden], hidden ** -0.5 * config.initializer_factor));
        model.storeValue.loadHost(vision, { strict: false, path });
        const missing = model.storeValue.names().filter((name) => name !== PROJECTION && !vision.has(name));
        if (missing.length > 0) throw new Llm2ClipError('E_MISMATCH', `weights do not match the model; missing: ${missing.slice(0, 10).join(', ')}`, { path });
      } else {
        model.storeValue.loadHost(vision, { strict: true, path });
      }
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  }

  /**
   * Writes the tower as Hugging Face's `CLIPVisionModelWithProjection` saves it — `config.json`
   * (`architectures`, `model_type: clip_vision_model` and every `CLIPVisionConfig` field) and
   * `model.safetensors` — so `CLIPVisionModelWithProjection.from_pretrained(dir)` loads it. Optional
   * `preprocessor_config.json` and companions (e.g. the LLM2CLIP adapter) beside it. Weights are
   * written first, each file atomically.
   */
  async save(dir: string, options: ClipVisionSaveOptions = {}): Promise<void> {
    await writeSafetensors(join(dir, 'model.safetensors'), this.storeValue.toHost(), { format: 'pt' });
    for (const [name, companion] of Object.entries(options.companions ?? {})) await saveCompanion(dir, name, companion);
    if (options.preprocessor !== undefined) await writeJsonAtomic(join(dir, 'preprocessor_config.json'), options.preprocessor.toPreprocessorConfig());
    await writeJsonAtomic(join(dir, 'config.json'), {
      architectures: ['CLIPVisionModelWithProjection'],
      model_type: 'clip_vision_model',
      torch_dtype: 'float32',
      attention_dropout: 0,
      dropout: 0,
      ...this.configValue,
    });
  }

  /** Number of transformer blocks. */
  get numLayers(): number {
    return this.configValue.num_hidden_layers;
  }

  /** The lock groups of this tower (open_clip's: embeddings + `pre_layrnorm`, blocks, last block + `post_layernorm`, projection). */
  get lockGroups(): LockGroups {
    return lockGroups(
      this.numLayers,
      (name) => {
        const match = /^vision_model\.encoder\.layers\.(\d+)\./.exec(name);
        return match === null ? undefined : Number(match[1]);
      },
      (name) => name === PROJECTION,
      (name) => name.startsWith('vision_model.post_layernorm.'),
    );
  }

  /**
   * Freezes the tower except its last `unlockedGroups` lock groups (open_clip's
   * `lock_image_tower(unlocked_groups, freeze_bn_stats)`; `freezeNorms` keeps layer norms frozen
   * in unlocked groups). `lock(0)` freezes everything; {@link unlock} undoes it.
   */
  lock(unlockedGroups = 0, options: { freezeNorms?: boolean } = {}): void {
    applyLock(this.storeValue, this.lockGroups, unlockedGroups, { freezeNorms: options.freezeNorms, isNorm: (name) => /(layer_norm\d|layrnorm|layernorm)\./.test(name) });
  }

  /** Makes every weight trainable again. */
  unlock(): void {
    this.storeValue.setTrainable(() => true);
  }

  /**
   * Token states after the last block `[batch, 1 + patches, hidden]` (Hugging Face's
   * `last_hidden_state`, before `post_layernorm`). The caller owns the result.
   */
  hiddenStates(pixels: tf.Tensor4D): tf.Tensor3D {
    this.checkPixels(pixels);
    const c = this.configValue;
    return tf.tidy(() => {
      const store = this.storeValue;
      const batch = pixels.shape[0];
      const hidden = c.hidden_size;
      const classToken = tf.tile(tf.reshape(store.get('vision_model.embeddings.class_embedding'), [1, 1, hidden]), [batch, 1, 1]);
      let h: tf.Tensor = tf.concat([classToken, this.patchEmbeddings(pixels)], 1);
      h = tf.add(h, store.get(POSITIONS));
      h = applyLayerNorm(store, 'vision_model.pre_layrnorm', h, c.layer_norm_eps);
      return encoderForward(store, 'vision_model.encoder', h as tf.Tensor3D, c);
    });
  }

  private checkPixels(pixels: tf.Tensor4D): void {
    const c = this.configValue;
    const [, channels, height, width] = pixels.shape;
    if (pixels.rank !== 4 || channels !== c.num_channels || height !== c.image_size || width !== c.image_size) {
      throw new Llm2ClipError('E_SHAPE', `expected pixels [batch, ${c.num_channels}, ${c.image_size}, ${c.image_size}], got [${pixels.shape}]`, { field: 'pixels' });
    }
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
    this.checkPixels(pixels);
    const c = this.configValue;
    return tf.tidy(() => {
      const batch = pixels.shape[0];
      const encoded = this.hiddenStates(pixels);
      const cls = tf.reshape(tf.slice(encoded, [0, 0, 0], [batch, 1, c.hidden_size]), [batch, c.hidden_size]);
      return applyLayerNorm(this.storeValue, 'vision_model.post_layernorm', cls, c.layer_norm_eps) as tf.Tensor2D;
    });
  }

  /**
   * The patch embeddings `[batch, patches, hidden]` (row-major patch order, no class token or
   * positions): HF's stride-p bias-free `Conv2d`, computed as one matmul. The caller owns the result.
   */
  patchEmbeddings(pixels: tf.Tensor4D): tf.Tensor3D {
    return patchEmbed(pixels, this.storeValue.get('vision_model.embeddings.patch_embedding.weight'), this.configValue.patch_size);
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

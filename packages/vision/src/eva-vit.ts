import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { Llm2ClipError, writeJsonAtomic, fingerprint, type Rng } from '@llm2clip/core';
import { ParameterStore, normalInit, zerosInit, linear, silu, splitHeads, mergeHeads, scaledDotProductAttention, readSafetensors, writeSafetensors, type HostTensor } from '@llm2clip/tensor';
import { eva02ParameterCount, parseEva02VisionConfig, evaClipVisionConfig, timmEvaVisionConfig, openClipTimmEvaConfig, type Eva02VisionConfig, type Eva02VisionConfigInput } from './eva-config.js';
import { addLayerNorm, applyLayerNorm, type WeightInit } from './encoder.js';
import { fileExists } from './hf-weights.js';
import { pickleCheckpointError, pickleCheckpointsIn, readCheckedModelWeights, readModelConfigJson, refusePickleFile, refuseUndersizedWeights, requireSafetensorsFile } from './model-files.js';
import { OPEN_CLIP_CONFIG, OPEN_CLIP_WEIGHTS, openClipModelConfig } from './open-clip.js';
import { patchEmbed } from './patchify.js';
import { rope2dTables, rotateHalfMatrix } from './rope-2d.js';
import { resizePositionEmbedding, type PositionInterpolation } from './position-embedding.js';
import { applyLock, lockGroups, type LockGroups } from './layer-groups.js';
import { saveCompanion, type Companion } from './companion.js';

const HEAD = 'head.weight';
const HEAD_BIAS = 'head.bias';
const POSITIONS = 'pos_embed';

/** Options of {@link Eva02VisionModel.save}. */
export interface Eva02SaveOptions {
  /** Extra weights saved beside the tower, each in `dir/<name>/` (e.g. the LLM2CLIP adapter). */
  companions?: Record<string, Companion>;
}

/** Options of {@link Eva02VisionModel.fromPretrained}. */
export interface Eva02LoadOptions {
  /** Build the tower for another input size: `pos_embed` is resized (bicubic, antialiased, as timm and open_clip do), rotary tables follow the grid. */
  imageSize?: number;
  /** How `pos_embed` is resized. Default `'open_clip'` (bicubic with antialias, timm's default too). */
  positionInterpolation?: PositionInterpolation;
}

/**
 * Maps EVA-CLIP state-dict names (`visual.blocks.N.attn.q_bias`, `mlp.w1`, …) to timm's `Eva`
 * names, the names this model uses — exactly timm's `checkpoint_filter_fn`:
 *
 * | EVA-CLIP (`visual.` prefix) | timm / this model |
 * |---|---|
 * | `patch_embed.proj.{weight,bias}`, `cls_token`, `pos_embed` | same |
 * | `blocks.N.norm1`, `blocks.N.norm2` | same |
 * | `blocks.N.attn.{q,k,v}_proj.weight` | same |
 * | `blocks.N.attn.q_bias`, `blocks.N.attn.v_bias` | `blocks.N.attn.q_proj.bias`, `blocks.N.attn.v_proj.bias` (k has none) |
 * | `blocks.N.attn.inner_attn_ln` | `blocks.N.attn.norm` (sub-LN before `proj`) |
 * | `blocks.N.attn.proj` | same |
 * | `blocks.N.mlp.w1` (SiLU gate) / `w2` / `ffn_ln` / `w3` | `blocks.N.mlp.fc1_g` / `fc1_x` / `norm` / `fc2` |
 * | `norm`, `head` | same |
 * | `rope.freqs_cos/sin`, `blocks.N.attn.rope.*` | dropped (recomputed from the config) |
 *
 * A fused `attn.qkv.weight` (timm `qkv_fused`, EVA-CLIP without sub-LN) is split into q/k/v.
 */
export function evaClipToTimmNames(source: Map<string, HostTensor>, prefix = 'visual.'): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [fullName, tensor] of source) {
    if (!fullName.startsWith(prefix)) continue;
    let name = fullName.slice(prefix.length);
    if (name.includes('rope.') || name.endsWith('.k_bias')) continue;
    name = name
      .replace('mlp.ffn_ln', 'mlp.norm')
      .replace('attn.inner_attn_ln', 'attn.norm')
      .replace('mlp.w1', 'mlp.fc1_g')
      .replace('mlp.w2', 'mlp.fc1_x')
      .replace('mlp.w3', 'mlp.fc2')
      .replace('attn.q_bias', 'attn.q_proj.bias')
      .replace('attn.v_bias', 'attn.v_proj.bias');
    if (name.endsWith('attn.qkv.weight')) {
      const width = tensor.shape[0] / 3;
      const per = width * tensor.shape[1];
      ['q_proj', 'k_proj', 'v_proj'].forEach((proj, i) => {
        out.set(name.replace('qkv.weight', `${proj}.weight`), { shape: [width, tensor.shape[1]], dtype: 'float32', data: Float32Array.from(tensor.data.subarray(i * per, (i + 1) * per)) });
      });
      continue;
    }
    out.set(name, tensor);
  }
  return out;
}

/**
 * The EVA02 vision tower of EVA-CLIP (the LLM2CLIP paper's main backbone): patch embedding with
 * bias, class token, learned absolute positions, pre-LN blocks whose attention has q/v biases,
 * 2-D rotary positions on the patch tokens (not the class token) and a sub-LN before the output
 * projection, a SwiGLU MLP (`silu(w1·x) ⊙ w2·x`, sub-LN, `w3`), the final norm, class-token
 * pooling and the linear `head` (EVA-CLIP's image projection). Weights use timm's `Eva` names
 * ({@link evaClipToTimmNames}); loads EVA-CLIP and timm checkpoints, saves timm's layout.
 */
export class Eva02VisionModel {
  private configValue: Eva02VisionConfig;
  private readonly store: ParameterStore;
  private readonly cos: tf.Tensor2D;
  private readonly sin: tf.Tensor2D;
  private readonly rotate: tf.Tensor2D;

  private constructor(config: Eva02VisionConfig, store: ParameterStore) {
    this.configValue = config;
    this.store = store;
    const headDim = config.hidden_size / config.num_attention_heads;
    const grid = config.image_size / config.patch_size;
    const tables = rope2dTables(headDim, grid, config.rope_reference_grid, config.rope_theta);
    // row 0 (class token) is not rotated: cos 1, sin 0; the tables repeat for every head
    const tile = (table: Float32Array, first: number): tf.Tensor2D =>
      tf.tidy(() => {
        const rows = tf.concat([tf.fill([1, headDim], first), tf.tensor2d(table, [grid * grid, headDim])], 0);
        return tf.tile(rows, [1, config.num_attention_heads]) as tf.Tensor2D;
      });
    this.cos = tf.keep(tile(tables.cos, 1));
    this.sin = tf.keep(tile(tables.sin, 0));
    this.rotate = tf.keep(tf.tensor2d(rotateHalfMatrix(headDim), [headDim, headDim]));
  }

  /** The architecture. */
  get config(): Eva02VisionConfig {
    return this.configValue;
  }

  /** The named weights (timm names). */
  get parameters(): ParameterStore {
    return this.store;
  }

  /** Output dimension (`projection_dim`, the head's width). */
  get dim(): number {
    return this.configValue.projection_dim;
  }

  /** Number of transformer blocks. */
  get numLayers(): number {
    return this.configValue.num_hidden_layers;
  }

  /** A randomly initialised tower (truncated-normal-like N(0, 0.02) weights, zero biases), drawing from `rng`. */
  static create(config: Eva02VisionConfigInput, rng: Rng): Eva02VisionModel {
    return Eva02VisionModel.build(parseEva02VisionConfig(config), (shape, std) => normalInit(rng, shape, std));
  }

  private static build(c: Eva02VisionConfig, init: WeightInit): Eva02VisionModel {
    const store = new ParameterStore();
    const d = c.hidden_size;
    const std = c.initializer_range;
    const grid = c.image_size / c.patch_size;
    store.add('cls_token', init([1, 1, d], std));
    store.add(POSITIONS, init([1, grid * grid + 1, d], std));
    store.add('patch_embed.proj.weight', init([d, 3, c.patch_size, c.patch_size], std));
    store.add('patch_embed.proj.bias', zerosInit([d]));
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const p = `blocks.${i}`;
      // EVA's fix_init_weight: output projections scaled by 1/sqrt(2·(layer + 1))
      const rescale = 1 / Math.sqrt(2 * (i + 1));
      addLayerNorm(store, `${p}.norm1`, d);
      store.add(`${p}.attn.q_proj.weight`, init([d, d], std));
      store.add(`${p}.attn.q_proj.bias`, zerosInit([d]));
      store.add(`${p}.attn.k_proj.weight`, init([d, d], std));
      store.add(`${p}.attn.v_proj.weight`, init([d, d], std));
      store.add(`${p}.attn.v_proj.bias`, zerosInit([d]));
      addLayerNorm(store, `${p}.attn.norm`, d);
      store.add(`${p}.attn.proj.weight`, init([d, d], std * rescale));
      store.add(`${p}.attn.proj.bias`, zerosInit([d]));
      addLayerNorm(store, `${p}.norm2`, d);
      store.add(`${p}.mlp.fc1_g.weight`, init([c.intermediate_size, d], std));
      store.add(`${p}.mlp.fc1_g.bias`, zerosInit([c.intermediate_size]));
      store.add(`${p}.mlp.fc1_x.weight`, init([c.intermediate_size, d], std));
      store.add(`${p}.mlp.fc1_x.bias`, zerosInit([c.intermediate_size]));
      addLayerNorm(store, `${p}.mlp.norm`, c.intermediate_size);
      store.add(`${p}.mlp.fc2.weight`, init([d, c.intermediate_size], std * rescale));
      store.add(`${p}.mlp.fc2.bias`, zerosInit([d]));
    }
    addLayerNorm(store, 'norm', d);
    store.add(HEAD, init([c.projection_dim, d], std));
    store.add(HEAD_BIAS, zerosInit([c.projection_dim]));
    return new Eva02VisionModel(c, store);
  }

  /** A tower from a config and weights under this model's (timm) names; checks names and shapes. */
  static fromWeights(config: Eva02VisionConfigInput, weights: Map<string, HostTensor>, options: Eva02LoadOptions & { path?: string } = {}): Eva02VisionModel {
    let parsed = parseEva02VisionConfig(config, options.path);
    const fc1 = weights.get('blocks.0.mlp.fc1_g.weight');
    if (fc1 !== undefined) parsed = { ...parsed, intermediate_size: fc1.shape[0] };
    const head = weights.get(HEAD);
    if (head !== undefined) parsed = { ...parsed, projection_dim: head.shape[0] };
    let tensors = weights;
    if (options.imageSize !== undefined && options.imageSize !== parsed.image_size) {
      if (!Number.isInteger(options.imageSize) || options.imageSize % parsed.patch_size !== 0) {
        throw new Llm2ClipError('E_CONFIG', `imageSize ${options.imageSize} is not a multiple of patch_size ${parsed.patch_size}`, { field: 'imageSize' });
      }
      const table = weights.get(POSITIONS);
      tensors = new Map(weights);
      if (table !== undefined) {
        const resized = resizePositionEmbedding({ ...table, shape: table.shape.slice(1) }, options.imageSize / parsed.patch_size, options.positionInterpolation ?? 'open_clip');
        tensors.set(POSITIONS, { ...resized, shape: [1, ...resized.shape] });
      }
      parsed = { ...parsed, image_size: options.imageSize };
    }
    // nothing is allocated for a config that asks for more weights than the file holds
    refuseUndersizedWeights(eva02ParameterCount(parsed), 0, tensors, options.path ?? 'weights');
    const model = Eva02VisionModel.build(parsed, (shape) => zerosInit(shape));
    try {
      model.store.loadHost(tensors, { strict: true, path: options.path });
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  }

  /**
   * Loads an EVA02 tower from a directory in one of these layouts:
   * - EVA-CLIP / open_clip: `open_clip_config.json` (`model_cfg` = EVA-CLIP's model config with
   *   `vision_cfg.eva_model_name`) + `open_clip_model.safetensors` with `visual.*` names (EVA-CLIP's
   *   released `.pt` state dicts, saved as safetensors); text-tower tensors are ignored.
   * - open_clip with a timm EVA02 trunk (`vision_cfg.timm_model_name`, the hub's
   *   `timm/eva02_*_clip_*` repos): `visual.trunk.*` names.
   * - timm: `config.json` (`architecture` such as `eva02_large_patch14_clip_224`, optional
   *   `model_args`) + `model.safetensors` with timm names.
   */
  static async fromPretrained(dir: string, options: Eva02LoadOptions = {}): Promise<Eva02VisionModel> {
    // a pickle checkpoint given instead of a directory
    refusePickleFile(dir);
    if (await fileExists(join(dir, OPEN_CLIP_CONFIG))) {
      const configPath = join(dir, OPEN_CLIP_CONFIG);
      const model = openClipModelConfig(await readModelConfigJson(dir, OPEN_CLIP_CONFIG));
      const timmTrunk = typeof (model.vision_cfg as { timm_model_name?: unknown } | undefined)?.timm_model_name === 'string';
      const config = timmTrunk ? openClipTimmEvaConfig(model, configPath) : evaClipVisionConfig(model, configPath);
      let path = join(dir, OPEN_CLIP_WEIGHTS);
      let tensors: Map<string, HostTensor>;
      if (!(await fileExists(path)) && !(await fileExists(join(dir, 'model.safetensors'))) && !(await fileExists(join(dir, 'model.safetensors.index.json')))) {
        // no safetensors at all: a pickle (open_clip_pytorch_model.bin) gets the conversion message, else E_NOT_FOUND
        path = await requireSafetensorsFile(dir, OPEN_CLIP_WEIGHTS);
      }
      if (await fileExists(path)) tensors = (await readSafetensors(path)).tensors;
      else {
        const weights = await readCheckedModelWeights(dir);
        path = weights.path;
        tensors = weights.tensors;
      }
      return Eva02VisionModel.fromWeights(config, evaClipToTimmNames(tensors, timmTrunk ? 'visual.trunk.' : 'visual.'), { ...options, path });
    }
    const configPath = join(dir, 'config.json');
    if (!(await fileExists(configPath))) {
      const pickles = await pickleCheckpointsIn(dir);
      if (pickles.length > 0) throw pickleCheckpointError(join(dir, pickles[0]));
    }
    const json = (await readModelConfigJson(dir)) as Record<string, unknown>;
    const { tensors, path } = await readCheckedModelWeights(dir);
    if (typeof json.architecture === 'string') return Eva02VisionModel.fromWeights(timmEvaVisionConfig(json, configPath), tensors, { ...options, path });
    if (json.vision_cfg !== undefined) {
      const prefix = [...tensors.keys()].some((name) => name.startsWith('visual.')) ? 'visual.' : '';
      return Eva02VisionModel.fromWeights(evaClipVisionConfig(json, configPath), evaClipToTimmNames(tensors, prefix), { ...options, path });
    }
    throw new Llm2ClipError('E_FORMAT', 'config.json is neither a timm config (architecture) nor an EVA-CLIP model config (vision_cfg)', { path: configPath });
  }

  /** The timm `config.json` describing this tower (`architecture` + full `model_args`). */
  timmConfig(): Record<string, unknown> {
    const c = this.configValue;
    const grid = c.image_size / c.patch_size;
    return {
      architecture: 'eva02_base_patch16_clip_224',
      num_classes: c.projection_dim,
      num_features: c.hidden_size,
      global_pool: 'token',
      model_args: {
        img_size: c.image_size,
        patch_size: c.patch_size,
        embed_dim: c.hidden_size,
        depth: c.num_hidden_layers,
        num_heads: c.num_attention_heads,
        mlp_ratio: c.intermediate_size / c.hidden_size,
        qkv_fused: false,
        swiglu_mlp: true,
        scale_mlp: true,
        scale_attn_inner: true,
        use_rot_pos_emb: true,
        ref_feat_shape: [c.rope_reference_grid, c.rope_reference_grid],
        rope_temperature: c.rope_theta,
        global_pool: 'token',
        num_classes: c.projection_dim,
      },
      pretrained_cfg: {
        tag: 'llm2clip',
        input_size: [3, c.image_size, c.image_size],
        fixed_input_size: true,
        interpolation: 'bicubic',
        crop_pct: 1.0,
        crop_mode: 'center',
        num_classes: c.projection_dim,
        first_conv: 'patch_embed.proj',
        classifier: 'head',
        grid_size: [grid, grid],
      },
    };
  }

  /**
   * Writes the tower in timm's layout — `config.json` ({@link timmConfig}) and `model.safetensors`
   * with timm names — loadable by `timm.create_model('local-dir:<dir>')`. Companions (e.g. the
   * LLM2CLIP adapter) go to `dir/<name>/`. Weights first, each file atomically.
   */
  async save(dir: string, options: Eva02SaveOptions = {}): Promise<void> {
    await writeSafetensors(join(dir, 'model.safetensors'), this.store.toHost(), { format: 'pt' });
    for (const [name, companion] of Object.entries(options.companions ?? {})) await saveCompanion(dir, name, companion);
    await writeJsonAtomic(join(dir, 'config.json'), this.timmConfig());
  }

  private checkPixels(pixels: tf.Tensor4D): void {
    const c = this.configValue;
    const [, channels, height, width] = pixels.shape;
    if (pixels.rank !== 4 || channels !== 3 || height !== c.image_size || width !== c.image_size) {
      throw new Llm2ClipError('E_SHAPE', `expected pixels [batch, 3, ${c.image_size}, ${c.image_size}], got [${pixels.shape}]`, { field: 'pixels' });
    }
  }

  /** `x·cos + rotate_half(x)·sin` on `[batch·seq, hidden]` rows (class rows pass unchanged). */
  private applyRope(x: tf.Tensor, batch: number, seq: number): tf.Tensor {
    const d = this.configValue.hidden_size;
    const headDim = d / this.configValue.num_attention_heads;
    const rotated = tf.reshape(tf.matMul(tf.reshape(x, [-1, headDim]) as tf.Tensor2D, this.rotate), [batch, seq, d]);
    const x3 = tf.reshape(x, [batch, seq, d]);
    return tf.reshape(tf.add(tf.mul(x3, this.cos), tf.mul(rotated, this.sin)), [batch * seq, d]);
  }

  /** Token states after the final norm `[batch, 1 + patches, hidden]`. The caller owns the result. */
  hiddenStates(pixels: tf.Tensor4D): tf.Tensor3D {
    this.checkPixels(pixels);
    const c = this.configValue;
    return tf.tidy(() => {
      const s = this.store;
      const batch = pixels.shape[0];
      const d = c.hidden_size;
      const eps = c.layer_norm_eps;
      const patches = patchEmbed(pixels, s.get('patch_embed.proj.weight'), c.patch_size, s.get('patch_embed.proj.bias'));
      const seq = patches.shape[1] + 1;
      const cls = tf.tile(s.get('cls_token'), [batch, 1, 1]);
      let h: tf.Tensor = tf.reshape(tf.add(tf.concat([cls, patches], 1), s.get(POSITIONS)), [batch * seq, d]);
      for (let i = 0; i < c.num_hidden_layers; i++) {
        const p = `blocks.${i}`;
        const x = applyLayerNorm(s, `${p}.norm1`, h, eps);
        const q = this.applyRope(linear(x, s.get(`${p}.attn.q_proj.weight`), s.get(`${p}.attn.q_proj.bias`)), batch, seq);
        const k = this.applyRope(linear(x, s.get(`${p}.attn.k_proj.weight`)), batch, seq);
        const v = linear(x, s.get(`${p}.attn.v_proj.weight`), s.get(`${p}.attn.v_proj.bias`));
        const toHeads = (t: tf.Tensor): tf.Tensor4D => splitHeads(tf.reshape(t, [batch, seq, d]), c.num_attention_heads);
        const context = tf.reshape(mergeHeads(scaledDotProductAttention(toHeads(q), toHeads(k), toHeads(v))), [batch * seq, d]);
        const attnOut = linear(applyLayerNorm(s, `${p}.attn.norm`, context, eps), s.get(`${p}.attn.proj.weight`), s.get(`${p}.attn.proj.bias`));
        h = tf.add(h, attnOut);
        const y = applyLayerNorm(s, `${p}.norm2`, h, eps);
        const gate = silu(linear(y, s.get(`${p}.mlp.fc1_g.weight`), s.get(`${p}.mlp.fc1_g.bias`)));
        const inner = tf.mul(gate, linear(y, s.get(`${p}.mlp.fc1_x.weight`), s.get(`${p}.mlp.fc1_x.bias`)));
        h = tf.add(h, linear(applyLayerNorm(s, `${p}.mlp.norm`, inner, c.layer_norm_eps), s.get(`${p}.mlp.fc2.weight`), s.get(`${p}.mlp.fc2.bias`)));
      }
      return tf.reshape(applyLayerNorm(s, 'norm', h, eps), [batch, seq, d]) as tf.Tensor3D;
    });
  }

  /** The normed class token `[batch, hidden]` (before the head). The caller owns it. */
  pooledOutput(pixels: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const states = this.hiddenStates(pixels);
      const [batch, , d] = states.shape;
      return tf.reshape(tf.slice(states, [0, 0, 0], [batch, 1, d]), [batch, d]) as tf.Tensor2D;
    });
  }

  /** Image features `[batch, projection_dim]` (EVA-CLIP's `encode_image`, timm's `forward`). The caller owns the result. */
  forward(pixels: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => linear(this.pooledOutput(pixels), this.store.get(HEAD), this.store.get(HEAD_BIAS)) as tf.Tensor2D);
  }

  /**
   * Replaces the head by a fresh `[dim, hidden]` one (N(0, 0.02), zero bias) drawn from `rng`,
   * as LLM2CLIP does for the new embedding space. Other weights are kept.
   */
  resetProjection(dim: number, rng: Rng): void {
    if (!Number.isInteger(dim) || dim <= 0) throw new Llm2ClipError('E_CONFIG', `projection dim must be a positive integer, got ${dim}`, { field: 'projection_dim' });
    this.store.replace(HEAD, normalInit(rng, [dim, this.configValue.hidden_size], this.configValue.initializer_range));
    this.store.replace(HEAD_BIAS, zerosInit([dim]));
    this.configValue = { ...this.configValue, projection_dim: dim };
  }

  /** Lock groups: embeddings, blocks, last block + final norm, head (as {@link ClipVisionModel}'s). */
  get lockGroups(): LockGroups {
    return lockGroups(
      this.numLayers,
      (name) => {
        const match = /^blocks\.(\d+)\./.exec(name);
        return match === null ? undefined : Number(match[1]);
      },
      (name) => name.startsWith('head.'),
      (name) => name.startsWith('norm.'),
    );
  }

  /** Freezes all but the last `unlockedGroups` lock groups (see {@link ClipVisionModel.lock}). */
  lock(unlockedGroups = 0, options: { freezeNorms?: boolean } = {}): void {
    applyLock(this.store, this.lockGroups, unlockedGroups, { freezeNorms: options.freezeNorms, isNorm: (name) => /(^|\.)norm\d?\./.test(name) });
  }

  /** Makes every weight trainable again. */
  unlock(): void {
    this.store.setTrainable(() => true);
  }

  /** Stable hash of the config and every weight. */
  fingerprint(): string {
    return fingerprint(this.configValue, this.store.fingerprint());
  }

  /** Frees the weights and the rotary tables. */
  dispose(): void {
    this.store.dispose();
    tf.dispose([this.cos, this.sin, this.rotate]);
  }
}

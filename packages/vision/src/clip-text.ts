import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { Llm2ClipError, writeJsonAtomic, fingerprint, type Rng } from '@llm2clip/core';
import { ParameterStore, normalInit, zerosInit, linear, attentionBias, writeSafetensors, readSafetensors, refusePickleFile, refusePickleOnlyDirectory, type HostTensor } from '@llm2clip/tensor';
import { clipTextParameterCount, parseClipTextConfig, type ClipTextConfig, type ClipTextConfigInput } from './config.js';
import { addEncoderParameters, addLayerNorm, applyLayerNorm, encoderForward, type WeightInit } from './encoder.js';
import { fileExists } from './hf-weights.js';
import { readCheckedModelWeights, readModelConfigJson, refuseUndersizedWeights, requireSafetensorsFile } from './model-files.js';
import { OPEN_CLIP_CONFIG, OPEN_CLIP_WEIGHTS, openClipTextConfig, openClipTextToHf } from './open-clip.js';

const TOKEN_EMBEDDING = 'text_model.embeddings.token_embedding.weight';
const POSITION_EMBEDDING = 'text_model.embeddings.position_embedding.weight';
const PROJECTION = 'text_projection.weight';

function isTextWeight(name: string): boolean {
  return (name.startsWith('text_model.') || name === PROJECTION) && !name.endsWith('.position_ids');
}

/**
 * Rows `ids` of `table`. Uses `gather` where the backend can differentiate it (its gradient needs
 * `UnsortedSegmentSum`, which the wasm backend lacks); elsewhere the gradient is the equivalent
 * `oneHot(ids)ᵀ · dy` matmul.
 */
function embeddingLookup(table: tf.Tensor, ids: tf.Tensor1D): tf.Tensor2D {
  if (tf.getKernel('UnsortedSegmentSum', tf.getBackend()) !== undefined) return tf.gather(table, ids) as tf.Tensor2D;
  const vocab = table.shape[0];
  const lookup = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.gather(inputs[0] as tf.Tensor, ids),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.matMul(tf.cast(tf.oneHot(ids, vocab), 'float32') as tf.Tensor2D, dy as tf.Tensor2D, true, false),
  }));
  return lookup(table) as tf.Tensor2D;
}

/**
 * The CLIP text tower with its projection, weights named as in Hugging Face's
 * `CLIPTextModelWithProjection`: token + learned position embeddings, causal pre-LN encoder,
 * `final_layer_norm`, pooling at the end-of-text token, `text_projection`. Used as the baseline
 * text side (the original CLIP recipe) next to LLM2CLIP's cached LLM embeddings.
 */
export class ClipTextModel {
  /** The architecture. */
  readonly config: ClipTextConfig;
  /** The named weights (Hugging Face names). */
  readonly parameters: ParameterStore;
  // additive causal mask [1, 1, ctx, ctx]; OpenAI CLIP masks causally only (padding comes after
  // the end token, which therefore never sees it)
  private readonly causalBias: tf.Tensor4D;

  private constructor(config: ClipTextConfig, store: ParameterStore) {
    this.config = config;
    this.parameters = store;
    const context = config.max_position_embeddings;
    this.causalBias = tf.keep(tf.tidy(() => attentionBias(tf.ones([1, context], 'float32') as tf.Tensor2D, true)));
  }

  /** Output dimension (`projection_dim`). */
  get dim(): number {
    return this.config.projection_dim;
  }

  /** A randomly initialised tower (Hugging Face's CLIP initialisation), drawing from `rng`. */
  static create(config: ClipTextConfigInput, rng: Rng): ClipTextModel {
    return ClipTextModel.build(parseClipTextConfig(config), (shape, std) => normalInit(rng, shape, std));
  }

  private static build(config: ClipTextConfig, init: WeightInit): ClipTextModel {
    const store = new ParameterStore();
    const hidden = config.hidden_size;
    const factor = config.initializer_factor;
    store.add(TOKEN_EMBEDDING, init([config.vocab_size, hidden], 0.02 * factor));
    store.add(POSITION_EMBEDDING, init([config.max_position_embeddings, hidden], 0.01 * factor));
    addEncoderParameters(store, 'text_model.encoder', config, init);
    addLayerNorm(store, 'text_model.final_layer_norm', hidden);
    store.add(PROJECTION, init([config.projection_dim, hidden], hidden ** -0.5 * factor));
    return new ClipTextModel(config, store);
  }

  /**
   * Loads a tower from a Hugging Face directory (`config.json` as `CLIPTextConfig` or a `CLIPConfig`
   * with `text_config`; `model.safetensors`; vision tensors of a full CLIP checkpoint are skipped)
   * or an open_clip one (`open_clip_config.json` + `open_clip_model.safetensors`, converted by
   * {@link openClipTextToHf}; pooling at the largest id, as open_clip does).
   */
  static async fromPretrained(dir: string): Promise<ClipTextModel> {
    // a pickle checkpoint given instead of a directory
    refusePickleFile(dir);
    let config: ClipTextConfig;
    let text: Map<string, HostTensor>;
    let path: string;
    let configPath: string;
    if (await fileExists(join(dir, 'config.json'))) {
      configPath = join(dir, 'config.json');
      config = parseClipTextConfig(await readModelConfigJson(dir), configPath);
      const weights = await readCheckedModelWeights(dir);
      path = weights.path;
      text = new Map<string, HostTensor>([...weights.tensors].filter(([name]) => isTextWeight(name)));
    } else if (await fileExists(join(dir, OPEN_CLIP_CONFIG))) {
      configPath = join(dir, OPEN_CLIP_CONFIG);
      config = parseClipTextConfig(openClipTextConfig(await readModelConfigJson(dir, OPEN_CLIP_CONFIG), configPath), configPath);
      path = await requireSafetensorsFile(dir, OPEN_CLIP_WEIGHTS);
      text = openClipTextToHf((await readSafetensors(path)).tensors, path);
    } else {
      await refusePickleOnlyDirectory(dir);
      throw new Llm2ClipError('E_NOT_FOUND', `no config.json or ${OPEN_CLIP_CONFIG}`, { path: dir });
    }
    const projection = text.get(PROJECTION);
    if (projection !== undefined) config.projection_dim = projection.shape[0];
    // nothing is allocated for a config that asks for far more weights than the file holds
    refuseUndersizedWeights(clipTextParameterCount(config), 0, text, path, configPath);
    const model = ClipTextModel.build(config, (shape) => zerosInit(shape));
    try {
      model.parameters.loadHost(text, { strict: true, path });
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  }

  /** Writes `config.json` (`CLIPTextConfig`) and `model.safetensors` into `dir`, atomically. */
  async save(dir: string): Promise<void> {
    await writeSafetensors(join(dir, 'model.safetensors'), this.parameters.toHost(), { format: 'pt' });
    await writeJsonAtomic(join(dir, 'config.json'), {
      architectures: ['CLIPTextModelWithProjection'],
      model_type: 'clip_text_model',
      torch_dtype: 'float32',
      attention_dropout: 0,
      dropout: 0,
      ...this.config,
    });
  }

  /**
   * Where each row is pooled, as transformers' `CLIPTextTransformer`: configs with the legacy
   * `eos_token_id: 2` (OpenAI's original uploads, open_clip) pool at the largest id (CLIP's end
   * token has the largest id); others at the first `eos_token_id` — or, when a row has none, at its
   * last non-padding token (transformers would take position 0 there). Returns int32 `[batch]`
   * (caller owns it).
   */
  poolingPositions(inputIds: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => {
      if (this.config.eos_token_id === 2) return tf.cast(tf.argMax(tf.cast(inputIds, 'int32'), 1), 'int32') as tf.Tensor1D;
      const isEos = tf.cast(tf.equal(inputIds, this.config.eos_token_id), 'int32');
      const hasEos = tf.greater(tf.max(isEos, 1), 0);
      const firstEos = tf.cast(tf.argMax(isEos, 1), 'int32');
      const realTokens = tf.sum(tf.cast(tf.notEqual(inputIds, this.config.pad_token_id), 'int32'), 1);
      const lastReal = tf.maximum(tf.sub(realTokens, 1), 0);
      return tf.cast(tf.where(hasEos, firstEos, lastReal), 'int32') as tf.Tensor1D;
    });
  }

  /**
   * Text features `[batch, projection_dim]` of int32 `inputIds` `[batch, seq ≤ max_position_embeddings]`.
   * The caller owns the result.
   */
  forward(inputIds: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => linear(this.pooledOutput(inputIds), this.parameters.get(PROJECTION)) as tf.Tensor2D);
  }

  /**
   * Final-LN token states `[batch, seq, hidden]` of int32 `inputIds` `[batch, seq ≤ 77]` under the
   * causal mask (position t sees positions ≤ t only). The caller owns the result.
   */
  hiddenStates(inputIds: tf.Tensor2D): tf.Tensor3D {
    const c = this.config;
    const [batch, seq] = inputIds.shape;
    if (inputIds.rank !== 2 || seq > c.max_position_embeddings || seq < 1) {
      throw new Llm2ClipError('E_SHAPE', `expected input ids [batch, ≤${c.max_position_embeddings}], got [${inputIds.shape}]`, { field: 'input_ids' });
    }
    return tf.tidy(() => {
      const store = this.parameters;
      const hidden = c.hidden_size;
      const ids = tf.reshape(tf.cast(inputIds, 'int32'), [batch * seq]) as tf.Tensor1D;
      const tokens = tf.reshape(embeddingLookup(store.get(TOKEN_EMBEDDING), ids), [batch, seq, hidden]);
      const full = seq === c.max_position_embeddings;
      const positions = full ? store.get(POSITION_EMBEDDING) : tf.slice(store.get(POSITION_EMBEDDING), [0, 0], [seq, hidden]);
      const bias = full ? this.causalBias : tf.slice(this.causalBias, [0, 0, 0, 0], [1, 1, seq, seq]);
      const encoded = encoderForward(store, 'text_model.encoder', tf.add(tokens, positions) as tf.Tensor3D, c, bias);
      return applyLayerNorm(store, 'text_model.final_layer_norm', encoded, c.layer_norm_eps) as tf.Tensor3D;
    });
  }

  /** The final-LN state at the pooling position ({@link poolingPositions}), `[batch, hidden]` (caller owns it). */
  pooledOutput(inputIds: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const states = this.hiddenStates(inputIds);
      const [batch, seq, hidden] = states.shape;
      // pick the pooled row with a one-hot batched matmul: differentiable on every backend
      const select = tf.reshape(tf.cast(tf.oneHot(this.poolingPositions(inputIds), seq), 'float32'), [batch, 1, seq]) as tf.Tensor3D;
      return tf.reshape(tf.matMul(select, states), [batch, hidden]) as tf.Tensor2D;
    });
  }

  /** Stable hash of the config and every weight. */
  fingerprint(): string {
    return fingerprint(this.config, this.parameters.fingerprint());
  }

  /** Frees the weights. */
  dispose(): void {
    this.parameters.dispose();
    this.causalBias.dispose();
  }
}

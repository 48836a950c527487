import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError, writeJsonAtomic, type ProgressCallback, type Rng } from '@llm2clip/core';
import {
  ParameterStore,
  attentionBias,
  linear,
  mergeHeads,
  normalInit,
  onesInit,
  rmsNorm,
  scaledDotProductAttention,
  silu,
  splitHeads,
  zerosInit,
  type HostTensor,
} from '@llm2clip/tensor';
import {
  attentionBiasesOf,
  headDimOf,
  kvHeadsOf,
  parseLlamaConfig,
  readLlamaConfig,
  slidingWindowOf,
  firstSlidingWindowLayer,
  type LlamaConfig,
  type LlamaConfigInput,
} from './config.js';
import { applyRope, ropeInverseFrequencies, ropePositionIds, ropeTables } from './rope.js';
import { resolvePretrained, type HubOptions } from './hub.js';
import { SafetensorsSource } from './safetensors-source.js';
import { writeSafetensorsModel, type SaveDtype } from './safetensors-writer.js';
import type { WeightInfo, WeightSource } from './weight-source.js';

/** What a forward pass may need beyond its inputs. */
export interface ForwardContext {
  /** Training mode (enables adapter dropout). */
  training: boolean;
  /** Seeded generator for dropout; required when training with dropout. */
  rng?: Rng;
}

/**
 * Something that modifies the output of the model's linear layers, looked up by module name
 * (`model.layers.3.self_attn.q_proj`). LoRA implements it; the model consults the attached
 * adapter in its one projection helper, so no layer code knows about LoRA.
 */
export interface LinearAdapter {
  /** Returns `output` (= `W·input + b`) plus the adapter's contribution for `moduleName`. */
  adapt(moduleName: string, input: tf.Tensor, output: tf.Tensor, context: ForwardContext): tf.Tensor;
}

/** Options of {@link LlamaModel.forward}. */
export interface ForwardOptions {
  /** Attend to every non-padding token (LLM2Vec) instead of causally. Default false. */
  bidirectional?: boolean;
  /** Training mode: adapter dropout on (needs `rng`). Default false. */
  training?: boolean;
  /** Seeded generator for dropout. */
  rng?: Rng;
  /**
   * Explicit rotary positions `[batch, seq]` (as `transformers`' `position_ids`). Default
   * `cumsum(attentionMask) − 1`, which makes outputs independent of padding; pass `0..seq−1` per
   * row to reproduce a plain `transformers` forward over left-padded rows.
   */
  positionIds?: tf.Tensor2D;
}

/** Options of {@link LlamaModel.create}. */
export interface CreateOptions {
  /** Standard deviation of the normal init of embeddings and projections (HF `initializer_range`). Default 0.02. */
  initStd?: number;
}

/** The Linear modules of one decoder layer, by their short names. */
export const LLAMA_LINEAR_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
/** One of {@link LLAMA_LINEAR_MODULES}. */
export type LlamaLinearModule = (typeof LLAMA_LINEAR_MODULES)[number];

interface Projection {
  name: string;
  weight: tf.Variable;
  bias?: tf.Variable;
}

interface DecoderLayer {
  inputNorm: tf.Variable;
  postNorm: tf.Variable;
  q: Projection;
  k: Projection;
  v: Projection;
  o: Projection;
  gate: Projection;
  up: Projection;
  down: Projection;
}

/** The parent of a Linear module's weights: `model.layers.N.self_attn` or `model.layers.N.mlp`. */
export function linearModuleName(layer: number, module: LlamaLinearModule): string {
  const parent = module === 'gate_proj' || module === 'up_proj' || module === 'down_proj' ? 'mlp' : 'self_attn';
  return `model.layers.${layer}.${parent}.${module}`;
}

/**
 * Every weight of a Llama-family causal LM with its Hugging Face name and `[out, in]` shape, in
 * the order `transformers` registers them.
 */
export function llamaParameterShapes(config: LlamaConfig): Map<string, number[]> {
  const hidden = config.hidden_size;
  const headDim = headDimOf(config);
  const qWidth = config.num_attention_heads * headDim;
  const kvWidth = kvHeadsOf(config) * headDim;
  const biases = attentionBiasesOf(config);
  const shapes = new Map<string, number[]>();
  shapes.set('model.embed_tokens.weight', [config.vocab_size, hidden]);
  const outIn: Record<LlamaLinearModule, [number, number]> = {
    q_proj: [qWidth, hidden],
    k_proj: [kvWidth, hidden],
    v_proj: [kvWidth, hidden],
    o_proj: [hidden, qWidth],
    gate_proj: [config.intermediate_size, hidden],
    up_proj: [config.intermediate_size, hidden],
    down_proj: [hidden, config.intermediate_size],
  };
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    for (const module of LLAMA_LINEAR_MODULES) {
      const name = linearModuleName(layer, module);
      const [out, inFeatures] = outIn[module];
      shapes.set(`${name}.weight`, [out, inFeatures]);
      const isQkv = module === 'q_proj' || module === 'k_proj' || module === 'v_proj';
      const isMlp = module === 'gate_proj' || module === 'up_proj' || module === 'down_proj';
      if ((isQkv && biases.qkv) || (module === 'o_proj' && biases.o) || (isMlp && config.mlp_bias)) shapes.set(`${name}.bias`, [out]);
    }
    shapes.set(`model.layers.${layer}.input_layernorm.weight`, [hidden]);
    shapes.set(`model.layers.${layer}.post_attention_layernorm.weight`, [hidden]);
  }
  shapes.set('model.norm.weight', [hidden]);
  if (!config.tie_word_embeddings) shapes.set('lm_head.weight', [config.vocab_size, hidden]);
  return shapes;
}

function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * The causal-LM name of a checkpoint tensor, or `undefined` for tensors that are dropped: bare
 * `LlamaModel` checkpoints (as LLM2Vec saves them) lack the `model.` prefix; rotary `inv_freq`
 * buffers of old checkpoints and a duplicated `lm_head.weight` of tied models are dropped.
 */
function canonicalName(rawName: string, config: LlamaConfig): string | undefined {
  if (rawName.endsWith('.rotary_emb.inv_freq')) return undefined;
  const name = /^(embed_tokens|layers|norm)\./.test(rawName) ? `model.${rawName}` : rawName;
  if (name === 'lm_head.weight' && config.tie_word_embeddings) return undefined;
  return name;
}

/**
 * Checks checkpoint tensors (names and shapes from the headers only) against the expected ones and
 * returns canonical name → file name. Every missing, unexpected and mis-shaped tensor is named in
 * one error (`E_MISMATCH`, or `E_SHAPE` when only shapes differ).
 */
function matchWeights(found: readonly WeightInfo[], expected: Map<string, number[]>, config: LlamaConfig, path: string): Map<string, WeightInfo> {
  const byName = new Map<string, WeightInfo>();
  for (const info of found) {
    const name = canonicalName(info.name, config);
    if (name !== undefined) byName.set(name, info);
  }
  const missing = [...expected.keys()].filter((name) => !byName.has(name));
  const extra = [...byName.keys()].filter((name) => !expected.has(name));
  const misShaped = [...expected].filter(([name, shape]) => byName.has(name) && !shapesEqual(byName.get(name)!.shape, shape))
    .map(([name, shape]) => `expected shape [${shape}], file has [${byName.get(name)!.shape}] for ${name}`);
  if (missing.length > 0 || extra.length > 0) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`missing: ${missing.join(', ')}`);
    if (extra.length > 0) parts.push(`unexpected: ${extra.join(', ')}`);
    if (misShaped.length > 0) parts.push(`mis-shaped: ${misShaped.join(', ')}`);
    throw new Llm2ClipError('E_MISMATCH', `weights do not match the config; ${parts.join('; ')}`, { path, field: missing[0] ?? extra[0] });
  }
  if (misShaped.length > 0) {
    const first = [...expected].find(([name, shape]) => !shapesEqual(byName.get(name)!.shape, shape))![0];
    throw new Llm2ClipError('E_SHAPE', `weights have the wrong shape: ${misShaped.join(', ')}`, { path, field: first });
  }
  return byName;
}

/** A {@link WeightSource} over host tensors already in memory. */
class MemorySource implements WeightSource {
  constructor(readonly path: string, private readonly tensors: Map<string, HostTensor>) {}
  list(): WeightInfo[] {
    return [...this.tensors].map(([name, t]) => ({ name, shape: t.shape, dtype: t.dtype }));
  }
  read(name: string): Promise<Float32Array> {
    const t = this.tensors.get(name)!;
    if (t.dtype !== 'float32') throw new Llm2ClipError('E_FORMAT', 'expected a floating-point tensor', { path: this.path, field: name });
    return Promise.resolve(t.data as Float32Array);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Reads the weights of a Hugging Face model directory: `model.safetensors`, or the shards listed in
 * `model.safetensors.index.json` (`weight_map`: tensor name → shard file), converted to float32.
 */
export async function readModelWeights(dir: string): Promise<Map<string, HostTensor>> {
  const source = await SafetensorsSource.openDirectory(dir);
  try {
    const out = new Map<string, HostTensor>();
    for (const info of source.list()) out.set(info.name, { shape: info.shape, dtype: 'float32', data: await source.read(info.name) });
    return out;
  } finally {
    await source.close();
  }
}

/** Options of {@link LlamaModel.fromPretrained} and {@link LlamaModel.fromSource}. */
export interface LoadOptions {
  /** Called after each tensor is loaded (`task: 'load'`, `unit: 'tensor'`). */
  onProgress?: ProgressCallback;
  /**
   * Per-frequency rope divisors as llama.cpp's `rope_freqs` tensor stores them (Llama 3 GGUF
   * files): the inverse frequencies of the config are divided by these. Default none.
   */
  ropeFactors?: Float32Array;
  /** Hub settings used when `fromPretrained` is given a hub id instead of a local path. */
  hub?: HubOptions;
}

/** Options of {@link LlamaModel.save}. */
export interface SaveOptions {
  /** Storage type of the weights (`torch_dtype` in `config.json` follows). Default `F32`. */
  dtype?: SaveDtype;
  /** Shard the weights above this many bytes per file. Default 5e9 (as `transformers`). */
  maxShardBytes?: number;
}

const TORCH_DTYPE: Record<SaveDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/**
 * A Llama / Mistral / Qwen2 decoder (`LlamaForCausalLM` layout): token embeddings, pre-norm
 * layers of grouped-query attention with rotary positions and a SwiGLU MLP, a final RMSNorm and
 * an LM head (tied to the embeddings when `tie_word_embeddings`). Attention is causal by default
 * and bidirectional over non-padding tokens on request (LLM2Vec). Weights live in a
 * {@link ParameterStore} under their Hugging Face names.
 *
 * @example
 * ```ts
 * const model = await LlamaModel.fromPretrained('models/tiny-llama');
 * const hidden = model.forward(inputIds, attentionMask, { bidirectional: true }); // [B, T, H]
 * hidden.dispose();
 * model.dispose();
 * ```
 */
export class LlamaModel {
  /** The validated `config.json`. */
  readonly config: LlamaConfig;
  /** All weights, under Hugging Face names. */
  readonly parameters: ParameterStore;
  private readonly layers: DecoderLayer[];
  private readonly embedTokens: tf.Variable;
  private readonly finalNorm: tf.Variable;
  private readonly lmHead: tf.Variable;
  private readonly inverseFrequencies: Float32Array;
  private attached: LinearAdapter | undefined;

  private constructor(config: LlamaConfig, parameters: ParameterStore, ropeFactors?: Float32Array) {
    this.config = config;
    this.parameters = parameters;
    this.embedTokens = parameters.get('model.embed_tokens.weight');
    this.finalNorm = parameters.get('model.norm.weight');
    this.lmHead = config.tie_word_embeddings ? this.embedTokens : parameters.get('lm_head.weight');
    this.inverseFrequencies = ropeInverseFrequencies(config);
    if (ropeFactors !== undefined) {
      if (ropeFactors.length !== this.inverseFrequencies.length) {
        throw new Llm2ClipError('E_SHAPE', `expected ${this.inverseFrequencies.length} rope factors, got ${ropeFactors.length}`, { field: 'ropeFactors' });
      }
      this.inverseFrequencies = this.inverseFrequencies.map((f, i) => f / ropeFactors[i]);
    }
    const projection = (layer: number, module: LlamaLinearModule): Projection => {
      const name = linearModuleName(layer, module);
      return {
        name,
        weight: parameters.get(`${name}.weight`),
        bias: parameters.has(`${name}.bias`) ? parameters.get(`${name}.bias`) : undefined,
      };
    };
    this.layers = Array.from({ length: config.num_hidden_layers }, (_, layer) => ({
      inputNorm: parameters.get(`model.layers.${layer}.input_layernorm.weight`),
      postNorm: parameters.get(`model.layers.${layer}.post_attention_layernorm.weight`),
      q: projection(layer, 'q_proj'),
      k: projection(layer, 'k_proj'),
      v: projection(layer, 'v_proj'),
      o: projection(layer, 'o_proj'),
      gate: projection(layer, 'gate_proj'),
      up: projection(layer, 'up_proj'),
      down: projection(layer, 'down_proj'),
    }));
  }

  /**
   * A randomly initialised model as `transformers` initialises one: embeddings and projections
   * from N(0, initStd²) (the padding row of the embeddings zero), biases zero, norm scales one.
   * All randomness comes from `rng`.
   */
  static create(config: LlamaConfig | LlamaConfigInput, rng: Rng, options: CreateOptions = {}): LlamaModel {
    const parsed = parseLlamaConfig(config);
    const std = options.initStd ?? 0.02;
    const store = new ParameterStore();
    for (const [name, shape] of llamaParameterShapes(parsed)) {
      let initial: tf.Tensor;
      if (name.endsWith('layernorm.weight') || name === 'model.norm.weight') initial = onesInit(shape);
      else if (name.endsWith('.bias')) initial = zerosInit(shape);
      else initial = normalInit(rng, shape, std);
      if (name === 'model.embed_tokens.weight' && parsed.pad_token_id != null && parsed.pad_token_id < parsed.vocab_size) {
        const values = initial.dataSync() as Float32Array;
        values.fill(0, parsed.pad_token_id * parsed.hidden_size, (parsed.pad_token_id + 1) * parsed.hidden_size);
        initial.dispose();
        initial = tf.tensor(values, shape, 'float32');
      }
      store.add(name, initial);
    }
    return new LlamaModel(parsed, store);
  }

  /**
   * Builds a model from host tensors with Hugging Face names (checked against the config: missing,
   * unexpected and mis-shaped tensors are reported by name).
   */
  static fromWeights(config: LlamaConfig | LlamaConfigInput, weights: Map<string, HostTensor>, path = '<memory>'): LlamaModel {
    const parsed = parseLlamaConfig(config, path);
    const expected = llamaParameterShapes(parsed);
    const byName = matchWeights(new MemorySource(path, weights).list(), expected, parsed, path);
    const store = new ParameterStore();
    for (const [name, shape] of expected) {
      const host = weights.get(byName.get(name)!.name)!;
      if (host.dtype !== 'float32') {
        store.dispose();
        throw new Llm2ClipError('E_FORMAT', 'expected a floating-point tensor', { path, field: name });
      }
      store.add(name, tf.tensor(host.data as Float32Array, shape, 'float32'));
    }
    return new LlamaModel(parsed, store);
  }

  /**
   * Builds a model from a {@link WeightSource}: names and shapes are checked from the headers
   * first, then tensors are read and converted one at a time straight into their final buffers, so
   * peak memory stays near the float32 size of the model. The source is not closed.
   */
  static async fromSource(config: LlamaConfig | LlamaConfigInput, source: WeightSource, options: LoadOptions = {}): Promise<LlamaModel> {
    const parsed = parseLlamaConfig(config, source.path);
    const expected = llamaParameterShapes(parsed);
    const byName = matchWeights(source.list(), expected, parsed, source.path);
    const store = new ParameterStore();
    try {
      let done = 0;
      for (const [name, shape] of expected) {
        const values = await source.read(byName.get(name)!.name);
        store.add(name, tf.tensor(values, shape, 'float32'));
        options.onProgress?.({ task: 'load', done: ++done, total: expected.size, unit: 'tensor', values: { tensor: name } });
      }
    } catch (error) {
      store.dispose();
      throw error;
    }
    return new LlamaModel(parsed, store, options.ropeFactors);
  }

  /**
   * Loads a Hugging Face model directory: `config.json` plus `model.safetensors` or a sharded
   * `model-0000k-of-0000n.safetensors` set with its index. F32, F16, BF16 (and F64) weights are
   * converted to float32 while streaming from disk. A path ending in `.gguf` loads a GGUF file
   * (see `loadGgufModel`); a hub id (`org/name`) that is not a local path is downloaded into the
   * Hugging Face cache first (see `hubDownload`).
   */
  static async fromPretrained(pathOrId: string, options: LoadOptions = {}): Promise<LlamaModel> {
    const dir = await resolvePretrained(pathOrId, 'model', { ...options.hub, onProgress: options.hub?.onProgress ?? options.onProgress });
    if (dir.toLowerCase().endsWith('.gguf')) {
      const { loadGgufModel } = await import('./gguf-model.js');
      return (await loadGgufModel(dir, options)).model;
    }
    const config = await readLlamaConfig(join(dir, 'config.json'));
    const source = await SafetensorsSource.openDirectory(dir);
    try {
      return await LlamaModel.fromSource(config, source, options);
    } finally {
      await source.close();
    }
  }

  /**
   * Writes `config.json` and the weights in the Hugging Face layout (`model.safetensors`, or
   * `model-0000k-of-0000n.safetensors` + `model.safetensors.index.json` above `maxShardBytes`;
   * Hugging Face names, `lm_head.weight` omitted when tied; `torch_dtype` set to the storage type)
   * into `dir`, each file atomically. Other files in `dir` (a tokenizer) stay.
   */
  async save(dir: string, options: SaveOptions = {}): Promise<void> {
    const dtype = options.dtype ?? 'F32';
    const tensors = this.parameters.entries().map(([name, variable]) => ({
      name,
      shape: variable.shape,
      values: async () => (await variable.data()) as Float32Array,
    }));
    await writeSafetensorsModel(dir, tensors, { dtype, maxShardBytes: options.maxShardBytes });
    const architectures = this.config.architectures ?? [`${{ llama: 'Llama', mistral: 'Mistral', qwen2: 'Qwen2' }[this.config.model_type]}ForCausalLM`];
    await writeJsonAtomic(join(dir, 'config.json'), { ...this.config, architectures, torch_dtype: TORCH_DTYPE[dtype] });
  }

  /** Hidden size (the width of `forward`'s output). */
  get hiddenSize(): number {
    return this.config.hidden_size;
  }

  /** The attached adapter (LoRA), if any. */
  get adapter(): LinearAdapter | undefined {
    return this.attached;
  }

  /** Makes every Linear layer consult `adapter` (replacing any attached one). */
  attachAdapter(adapter: LinearAdapter): void {
    this.attached = adapter;
  }

  /** Stops consulting the attached adapter. */
  detachAdapter(): void {
    this.attached = undefined;
  }

  /** Marks every base weight trainable (true) or frozen (false). */
  setTrainable(trainable: boolean): void {
    this.parameters.setTrainable(() => true, trainable);
  }

  private project(x: tf.Tensor, projection: Projection, context: ForwardContext): tf.Tensor {
    const output = linear(x, projection.weight, projection.bias);
    return this.attached === undefined ? output : this.attached.adapt(projection.name, x, output, context);
  }

  /**
   * Runs the decoder. `inputIds` (int32) and `attentionMask` (1 = token, 0 = padding) are
   * `[batch, seq]`; padding may be on either side. Returns the final-norm hidden states
   * `[batch, seq, hidden]`, owned by the caller. Causal attention unless `bidirectional`, which
   * masks padding keys only. Differentiable with respect to the trainable weights.
   */
  forward(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    const { bidirectional = false, training = false, rng, positionIds } = options;
    const context: ForwardContext = { training, rng };
    const config = this.config;
    const [batch, seq] = inputIds.shape;
    if (attentionMask.shape[0] !== batch || attentionMask.shape[1] !== seq) {
      throw new Llm2ClipError('E_SHAPE', `attention mask [${attentionMask.shape}] does not match input ids [${inputIds.shape}]`, { field: 'attentionMask' });
    }
    const heads = config.num_attention_heads;
    const kvHeads = kvHeadsOf(config);
    const eps = config.rms_norm_eps;
    // bidirectional (LLM2Vec) attention has no sliding window: every token sees every real token
    const slidingWindow = bidirectional ? undefined : slidingWindowOf(config);
    const firstWindowLayer = firstSlidingWindowLayer(config);
    return tf.tidy(() => {
      const ids = tf.cast(inputIds, 'int32');
      // hidden states are kept flat [batch·seq, hidden] between layers; attention reshapes them
      let hidden: tf.Tensor = tf.reshape(tf.gather(this.embedTokens, tf.reshape(ids, [-1])), [batch * seq, config.hidden_size]);
      if (positionIds !== undefined && (positionIds.shape[0] !== batch || positionIds.shape[1] !== seq)) {
        throw new Llm2ClipError('E_SHAPE', `position ids [${positionIds.shape}] do not match input ids [${inputIds.shape}]`, { field: 'positionIds' });
      }
      const positions = positionIds === undefined ? ropePositionIds(attentionMask) : tf.cast(positionIds, 'float32');
      const rope = ropeTables(positions, this.inverseFrequencies);
      const fullBias = attentionBias(attentionMask, !bidirectional);
      const windowBias = slidingWindow === undefined ? fullBias : attentionBias(attentionMask, true, slidingWindow);
      for (const [index, layer] of this.layers.entries()) {
        const bias = slidingWindow !== undefined && index >= firstWindowLayer ? windowBias : fullBias;
        const normed = rmsNorm(hidden, layer.inputNorm, eps);
        const q = applyRope(splitHeads(tf.reshape(this.project(normed, layer.q, context), [batch, seq, -1]), heads), rope);
        const k = applyRope(splitHeads(tf.reshape(this.project(normed, layer.k, context), [batch, seq, -1]), kvHeads), rope);
        const v = splitHeads(tf.reshape(this.project(normed, layer.v, context), [batch, seq, -1]), kvHeads);
        const attended = scaledDotProductAttention(q, k, v, bias);
        const merged = tf.reshape(mergeHeads(attended), [batch * seq, -1]);
        hidden = tf.add(hidden, this.project(merged, layer.o, context));
        const normed2 = rmsNorm(hidden, layer.postNorm, eps);
        const gated = tf.mul(silu(this.project(normed2, layer.gate, context)), this.project(normed2, layer.up, context));
        hidden = tf.add(hidden, this.project(gated, layer.down, context));
      }
      return tf.reshape(rmsNorm(hidden, this.finalNorm, eps), [batch, seq, config.hidden_size]) as tf.Tensor3D;
    });
  }

  /** Next-token logits `[..., vocab]` of hidden states `[..., hidden]` (LM head, or tied embeddings). */
  logits(hidden: tf.Tensor): tf.Tensor {
    return tf.tidy(() => linear(hidden, this.lmHead));
  }

  /** Hash of the config and every weight (changes whenever a weight changes). */
  fingerprint(): string {
    return this.parameters.fingerprint();
  }

  /** Frees every weight. */
  dispose(): void {
    this.attached = undefined;
    this.parameters.dispose();
  }
}

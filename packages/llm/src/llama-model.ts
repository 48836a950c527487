import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError, writeJsonAtomic, type Rng } from '@llm2clip/core';
import {
  ParameterStore,
  attentionBias,
  linear,
  mergeHeads,
  normalInit,
  onesInit,
  readSafetensors,
  rmsNorm,
  scaledDotProductAttention,
  silu,
  splitHeads,
  writeSafetensors,
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
  type LlamaConfig,
  type LlamaConfigInput,
} from './config.js';
import { applyRope, ropeInverseFrequencies, ropePositionIds, ropeTables } from './rope.js';

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
 * Maps the names found in a checkpoint onto causal-LM names: bare `LlamaModel` checkpoints (as
 * LLM2Vec saves them) lack the `model.` prefix; rotary `inv_freq` buffers of old checkpoints and a
 * duplicated `lm_head.weight` of tied models are dropped.
 */
function canonicalWeights(tensors: Map<string, HostTensor>, config: LlamaConfig): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [rawName, tensor] of tensors) {
    if (rawName.endsWith('.rotary_emb.inv_freq')) continue;
    let name = rawName;
    if (/^(embed_tokens|layers|norm)\./.test(name)) name = `model.${name}`;
    if (name === 'lm_head.weight' && config.tie_word_embeddings) continue;
    out.set(name, tensor);
  }
  return out;
}

/** Checks a weight map against the expected names and shapes, naming every problem. */
function checkWeights(tensors: Map<string, HostTensor>, expected: Map<string, number[]>, path: string): void {
  const missing = [...expected.keys()].filter((name) => !tensors.has(name));
  const extra = [...tensors.keys()].filter((name) => !expected.has(name));
  if (missing.length > 0 || extra.length > 0) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`missing: ${missing.join(', ')}`);
    if (extra.length > 0) parts.push(`unexpected: ${extra.join(', ')}`);
    throw new Llm2ClipError('E_MISMATCH', `weights do not match the config; ${parts.join('; ')}`, { path, field: missing[0] ?? extra[0] });
  }
  for (const [name, shape] of expected) {
    const found = tensors.get(name)!;
    if (!shapesEqual(found.shape, shape)) {
      throw new Llm2ClipError('E_SHAPE', `expected shape [${shape}], file has [${found.shape}]`, { path, field: name });
    }
    if (found.dtype !== 'float32') throw new Llm2ClipError('E_FORMAT', 'expected a floating-point tensor', { path, field: name });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads the weights of a Hugging Face model directory: `model.safetensors`, or the shards listed in
 * `model.safetensors.index.json` (`weight_map`: tensor name → shard file).
 */
export async function readModelWeights(dir: string): Promise<Map<string, HostTensor>> {
  const single = join(dir, 'model.safetensors');
  if (await exists(single)) return (await readSafetensors(single)).tensors;
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (!(await exists(indexPath))) {
    throw new Llm2ClipError('E_NOT_FOUND', 'no model.safetensors or model.safetensors.index.json in the model directory', { path: dir });
  }
  let index: { weight_map?: Record<string, string> };
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8')) as typeof index;
  } catch (cause) {
    throw new Llm2ClipError('E_FORMAT', 'cannot parse the safetensors index', { path: indexPath, cause });
  }
  if (index.weight_map === undefined || typeof index.weight_map !== 'object') {
    throw new Llm2ClipError('E_FORMAT', 'index has no weight_map object', { path: indexPath, field: 'weight_map' });
  }
  const merged = new Map<string, HostTensor>();
  for (const file of new Set(Object.values(index.weight_map))) {
    const shard = (await readSafetensors(join(dir, file))).tensors;
    for (const [name, tensor] of shard) {
      if (index.weight_map[name] !== file) {
        throw new Llm2ClipError('E_MISMATCH', `tensor is in ${file} but the index says ${String(index.weight_map[name])}`, { path: join(dir, file), field: name });
      }
      merged.set(name, tensor);
    }
  }
  for (const name of Object.keys(index.weight_map)) {
    if (!merged.has(name)) throw new Llm2ClipError('E_NOT_FOUND', 'tensor listed in the index is absent from its shard', { path: indexPath, field: name });
  }
  return merged;
}

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

  private constructor(config: LlamaConfig, parameters: ParameterStore) {
    this.config = config;
    this.parameters = parameters;
    this.embedTokens = parameters.get('model.embed_tokens.weight');
    this.finalNorm = parameters.get('model.norm.weight');
    this.lmHead = config.tie_word_embeddings ? this.embedTokens : parameters.get('lm_head.weight');
    this.inverseFrequencies = ropeInverseFrequencies(config);
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
    const tensors = canonicalWeights(weights, parsed);
    const expected = llamaParameterShapes(parsed);
    checkWeights(tensors, expected, path);
    const store = new ParameterStore();
    for (const [name, shape] of expected) {
      const host = tensors.get(name)!;
      const initial = tf.tensor(host.data as Float32Array, shape, 'float32');
      store.add(name, initial);
    }
    return new LlamaModel(parsed, store);
  }

  /**
   * Loads a Hugging Face model directory: `config.json` plus `model.safetensors` or a sharded
   * `model-0000k-of-0000n.safetensors` set with its index. F32, F16 and BF16 weights load.
   */
  static async fromPretrained(dir: string): Promise<LlamaModel> {
    const config = await readLlamaConfig(join(dir, 'config.json'));
    const weights = await readModelWeights(dir);
    return LlamaModel.fromWeights(config, weights, dir);
  }

  /**
   * Writes `config.json` and `model.safetensors` (F32, Hugging Face names, `lm_head.weight`
   * omitted when tied) into `dir`, each file atomically. Other files in `dir` (a tokenizer) stay.
   */
  async save(dir: string): Promise<void> {
    await writeSafetensors(join(dir, 'model.safetensors'), this.parameters.toHost(), { format: 'pt' });
    const architectures = this.config.architectures ?? [`${{ llama: 'Llama', mistral: 'Mistral', qwen2: 'Qwen2' }[this.config.model_type]}ForCausalLM`];
    await writeJsonAtomic(join(dir, 'config.json'), { ...this.config, architectures, torch_dtype: 'float32' });
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
    const { bidirectional = false, training = false, rng } = options;
    const context: ForwardContext = { training, rng };
    const config = this.config;
    const [batch, seq] = inputIds.shape;
    if (attentionMask.shape[0] !== batch || attentionMask.shape[1] !== seq) {
      throw new Llm2ClipError('E_SHAPE', `attention mask [${attentionMask.shape}] does not match input ids [${inputIds.shape}]`, { field: 'attentionMask' });
    }
    const heads = config.num_attention_heads;
    const kvHeads = kvHeadsOf(config);
    const eps = config.rms_norm_eps;
    const slidingWindow = bidirectional ? undefined : slidingWindowOf(config);
    return tf.tidy(() => {
      const ids = tf.cast(inputIds, 'int32');
      // hidden states are kept flat [batch·seq, hidden] between layers; attention reshapes them
      let hidden: tf.Tensor = tf.reshape(tf.gather(this.embedTokens, tf.reshape(ids, [-1])), [batch * seq, config.hidden_size]);
      const positions = ropePositionIds(attentionMask);
      const rope = ropeTables(positions, this.inverseFrequencies);
      const bias = attentionBias(attentionMask, !bidirectional, slidingWindow);
      for (const layer of this.layers) {
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

import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { Llm2ClipError } from '@llm2clip/core';
import { pickleCheckpointError, pickleCheckpointsIn, refusePickleFile } from './model-files.js';

/** `model_type` values of the decoder families this package runs. */
export const SUPPORTED_MODEL_TYPES = ['llama', 'mistral', 'qwen2'] as const;

/** `architectures` entries accepted in `config.json` (causal LM heads, bare models, LLM2Vec bi-models). */
export const SUPPORTED_ARCHITECTURES = [
  'LlamaForCausalLM',
  'LlamaModel',
  'LlamaBiModel',
  'MistralForCausalLM',
  'MistralModel',
  'MistralBiModel',
  'Qwen2ForCausalLM',
  'Qwen2Model',
  'Qwen2BiModel',
] as const;

const tokenId = z.number().int().nonnegative().max(2 ** 31 - 1);

/**
 * Upper bounds on `config.json` sizes, refused (`E_CONFIG` naming the field) before anything is
 * allocated. Each is far above every released Llama / Mistral / Qwen2 model (e.g. Llama 3.1 405B:
 * hidden 16384, 126 layers, vocab 128256); together with the tensor and parameter limits they keep
 * a hostile config from asking for more memory than the weights files could ever hold.
 */
export const LLM_CONFIG_LIMITS = {
  vocab_size: 1 << 22,
  hidden_size: 1 << 16,
  intermediate_size: 1 << 18,
  num_hidden_layers: 1024,
  num_attention_heads: 4096,
  head_dim: 4096,
  max_position_embeddings: 1 << 24,
  /** Elements of the largest weight matrix (a float32 array over 2^32 elements cannot exist in V8). */
  tensorElements: 2 ** 32,
  /** Parameters of the whole decoder (2^40 ≈ 1.1 trillion, 4 TiB as float32). */
  parameters: 2 ** 40,
} as const;

const size = (max: number) => z.number().int().positive().max(max);

/** `rope_scaling` of Llama 3.x (`rope_type: "llama3"`), linear scaling, or the default (no scaling). */
export const RopeScalingSchema = z.looseObject({
  rope_type: z.enum(['default', 'linear', 'llama3']).optional(),
  type: z.enum(['default', 'linear', 'llama3']).optional(),
  factor: z.number().positive().optional(),
  low_freq_factor: z.number().positive().optional(),
  high_freq_factor: z.number().positive().optional(),
  original_max_position_embeddings: z.number().int().positive().max(2 ** 31 - 1).optional(),
});

/**
 * The `config.json` of a Llama-family decoder, with Hugging Face field names and defaults.
 * Unknown extra fields (e.g. `transformers_version`, `initializer_range`) are kept as they are.
 */
export const LlamaConfigSchema = z.looseObject({
  architectures: z.array(z.enum(SUPPORTED_ARCHITECTURES)).optional(),
  model_type: z.enum(SUPPORTED_MODEL_TYPES),
  vocab_size: size(LLM_CONFIG_LIMITS.vocab_size),
  hidden_size: size(LLM_CONFIG_LIMITS.hidden_size),
  intermediate_size: size(LLM_CONFIG_LIMITS.intermediate_size),
  num_hidden_layers: size(LLM_CONFIG_LIMITS.num_hidden_layers),
  num_attention_heads: size(LLM_CONFIG_LIMITS.num_attention_heads),
  num_key_value_heads: size(LLM_CONFIG_LIMITS.num_attention_heads).optional(),
  head_dim: size(LLM_CONFIG_LIMITS.head_dim).nullish(),
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: RopeScalingSchema.nullish(),
  max_position_embeddings: size(LLM_CONFIG_LIMITS.max_position_embeddings).default(2048),
  tie_word_embeddings: z.boolean().default(false),
  attention_bias: z.boolean().optional(),
  mlp_bias: z.boolean().default(false),
  hidden_act: z.literal('silu').default('silu'),
  bos_token_id: tokenId.nullish(),
  eos_token_id: z.union([tokenId, z.array(tokenId)]).nullish(),
  pad_token_id: tokenId.nullish(),
  torch_dtype: z.string().nullish(),
  sliding_window: z.number().int().positive().max(2 ** 31 - 1).nullish(),
  use_sliding_window: z.boolean().optional(),
  max_window_layers: z.number().int().nonnegative().max(2 ** 31 - 1).optional(),
});

/** A parsed `config.json` (defaults applied). */
export type LlamaConfig = z.output<typeof LlamaConfigSchema>;
/** What a caller may pass to build a config (defaults optional). */
export type LlamaConfigInput = z.input<typeof LlamaConfigSchema>;

/**
 * Validates a `config.json` object. An unsupported `model_type` or architecture, a missing or
 * mistyped field, or inconsistent head counts throw `E_CONFIG` naming the field.
 */
export function parseLlamaConfig(json: unknown, path?: string): LlamaConfig {
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    const raw = json as { model_type?: unknown; architectures?: unknown };
    if (raw.model_type !== undefined && !(SUPPORTED_MODEL_TYPES as readonly unknown[]).includes(raw.model_type)) {
      throw new Llm2ClipError('E_CONFIG', `unsupported model_type ${JSON.stringify(raw.model_type)}; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`, { path, field: 'model_type' });
    }
    if (Array.isArray(raw.architectures)) {
      const index = raw.architectures.findIndex((a) => !(SUPPORTED_ARCHITECTURES as readonly unknown[]).includes(a));
      if (index >= 0) {
        throw new Llm2ClipError('E_CONFIG', `unsupported architecture ${JSON.stringify(raw.architectures[index])}; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}`, { path, field: `architectures.${index}` });
      }
    }
  }
  const parsed = LlamaConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.map(String).join('.') || undefined;
    throw new Llm2ClipError('E_CONFIG', `invalid model config: ${issue.message}`, { path, field });
  }
  const config = parsed.data;
  const heads = config.num_attention_heads;
  const kvHeads = config.num_key_value_heads ?? heads;
  if (heads % kvHeads !== 0) {
    throw new Llm2ClipError('E_CONFIG', `num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`, { path, field: 'num_key_value_heads' });
  }
  if (config.head_dim == null && config.hidden_size % heads !== 0) {
    throw new Llm2ClipError('E_CONFIG', `hidden_size ${config.hidden_size} is not divisible by num_attention_heads ${heads}`, { path, field: 'hidden_size' });
  }
  if (headDimOf(config) % 2 !== 0) {
    throw new Llm2ClipError('E_CONFIG', `head dimension ${headDimOf(config)} must be even for rotary embeddings`, { path, field: 'head_dim' });
  }
  checkModelSize(config, path);
  return config;
}

/**
 * Parameters of the decoder `config` describes (embeddings, layers, final norm, an untied LM
 * head; biases included), computed in floating point so absurd configs cannot overflow.
 */
export function llamaParameterCount(config: LlamaConfig): number {
  const hidden = config.hidden_size;
  const q = config.num_attention_heads * headDimOf(config);
  const kv = kvHeadsOf(config) * headDimOf(config);
  const biases = attentionBiasesOf(config);
  const attention = hidden * q * 2 + hidden * kv * 2 + (biases.qkv ? q + 2 * kv : 0) + (biases.o ? hidden : 0);
  const mlp = 3 * hidden * config.intermediate_size + (config.mlp_bias ? 2 * config.intermediate_size + hidden : 0);
  const layer = attention + mlp + 2 * hidden;
  const embeddings = config.vocab_size * hidden * (config.tie_word_embeddings ? 1 : 2);
  return embeddings + config.num_hidden_layers * layer + hidden;
}

function checkModelSize(config: LlamaConfig, path: string | undefined): void {
  const hidden = config.hidden_size;
  const matrices: Array<[string, number]> = [
    ['vocab_size', config.vocab_size * hidden],
    ['intermediate_size', config.intermediate_size * hidden],
    ['head_dim', config.num_attention_heads * headDimOf(config) * hidden],
  ];
  for (const [field, elements] of matrices) {
    if (elements > LLM_CONFIG_LIMITS.tensorElements) {
      throw new Llm2ClipError('E_CONFIG', `a weight matrix of ${elements} elements (${field} × hidden_size) is over the ${LLM_CONFIG_LIMITS.tensorElements}-element limit`, { path, field });
    }
  }
  const parameters = llamaParameterCount(config);
  if (parameters > LLM_CONFIG_LIMITS.parameters) {
    throw new Llm2ClipError('E_CONFIG', `the config describes ${parameters} parameters, over the ${LLM_CONFIG_LIMITS.parameters} limit`, { path, field: 'num_hidden_layers' });
  }
}

/** Largest `config.json` read (1 MiB; real ones are a few KiB). */
export const MAX_CONFIG_BYTES = 1 << 20;

/**
 * Reads and validates `config.json` from a file (size-capped before it is read). When it is
 * missing but its directory holds a pickle checkpoint, the error is the pickle conversion message.
 */
export async function readLlamaConfig(path: string): Promise<LlamaConfig> {
  // a loader handed a pickle file instead of a model directory (`…/pytorch_model.bin/config.json`)
  refusePickleFile(dirname(path));
  let text: string;
  try {
    const bytes = (await stat(path)).size;
    if (bytes > MAX_CONFIG_BYTES) throw new Llm2ClipError('E_FORMAT', `model config is ${bytes} bytes, over the ${MAX_CONFIG_BYTES}-byte limit`, { path });
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if (cause instanceof Llm2ClipError) throw cause;
    // a directory holding only a pickle checkpoint gets the conversion message, not "cannot read"
    const pickles = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? await pickleCheckpointsIn(dirname(path)) : [];
    if (pickles.length > 0) throw pickleCheckpointError(join(dirname(path), pickles[0]));
    throw new Llm2ClipError('E_IO', 'cannot read model config', { path, cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new Llm2ClipError('E_FORMAT', 'model config is not valid JSON', { path, cause });
  }
  return parseLlamaConfig(json, path);
}

/** Per-head width: `head_dim` when given, else `hidden_size / num_attention_heads`. */
export function headDimOf(config: LlamaConfig): number {
  return config.head_dim ?? config.hidden_size / config.num_attention_heads;
}

/** Number of key/value heads (grouped-query attention); equals the head count when absent. */
export function kvHeadsOf(config: LlamaConfig): number {
  return config.num_key_value_heads ?? config.num_attention_heads;
}

/**
 * Whether q/k/v (and o) projections carry biases. Qwen2 always has q/k/v biases (any
 * `attention_bias` field is ignored, as in `transformers`); Llama has all four when
 * `attention_bias` is true; Mistral has none.
 */
export function attentionBiasesOf(config: LlamaConfig): { qkv: boolean; o: boolean } {
  // transformers' Qwen2Attention hard-codes bias=True on q/k/v (Qwen2Config has no attention_bias)
  if (config.model_type === 'qwen2') return { qkv: true, o: false };
  const on = config.attention_bias ?? false;
  return { qkv: on, o: on };
}

/**
 * Index of the first layer that uses the sliding window: 0 for Mistral; for Qwen2 the layers from
 * `max_window_layers` on (as `transformers` Qwen2 applies it).
 */
export function firstSlidingWindowLayer(config: LlamaConfig): number {
  return config.model_type === 'qwen2' ? (config.max_window_layers ?? 28) : 0;
}

/** The sliding attention window in effect, if any (Mistral; Qwen2 only with `use_sliding_window`). */
export function slidingWindowOf(config: LlamaConfig): number | undefined {
  if (config.sliding_window == null) return undefined;
  if (config.model_type === 'qwen2' && config.use_sliding_window !== true) return undefined;
  if (config.sliding_window >= config.max_position_embeddings) return undefined;
  return config.sliding_window;
}

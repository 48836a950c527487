import { z } from 'zod';
import { Llm2ClipError } from '@llm2clip/core';

/**
 * Upper bounds on tower configs (CLIP vision/text here, EVA02 in `eva-config.ts`), refused with
 * `E_CONFIG` naming the field before anything is allocated. They are far above every released
 * tower (the largest, EVA-CLIP-18B's ViT: width 5120, 48 layers; CLIP text: vocab 49408, 77
 * positions) and keep a hostile `config.json` from asking for more memory than any weights file
 * could hold.
 */
export const TOWER_CONFIG_LIMITS = {
  hidden_size: 1 << 14,
  intermediate_size: 1 << 16,
  num_hidden_layers: 256,
  num_attention_heads: 1024,
  image_size: 1 << 13,
  patch_size: 1 << 10,
  projection_dim: 1 << 16,
  vocab_size: 1 << 20,
  max_position_embeddings: 1 << 16,
  /** Patches per image, `(image_size / patch_size)²`. */
  patches: 1 << 20,
  /** Elements of the largest weight matrix (a float32 array over 2^32 elements cannot exist in V8). */
  tensorElements: 2 ** 32,
  /** Parameters of a whole tower (2^35 ≈ 34 billion, 128 GiB as float32). */
  parameters: 2 ** 35,
} as const;

const size = (max: number) => z.number().int().positive().max(max);
const layers = z.number().int().nonnegative().max(TOWER_CONFIG_LIMITS.num_hidden_layers);
const tokenId = z.number().int().nonnegative().max(2 ** 31 - 1);

/** Activations CLIP configs use (`hidden_act`). */
export const ClipActivation = z.enum(['quick_gelu', 'gelu']);

/**
 * The vision tower's architecture, with the field names of Hugging Face's `CLIPVisionConfig`
 * (defaults: ViT-B/32). Unknown fields of a `config.json` are ignored.
 */
export const ClipVisionConfig = z.object({
  hidden_size: size(TOWER_CONFIG_LIMITS.hidden_size).default(768),
  intermediate_size: size(TOWER_CONFIG_LIMITS.intermediate_size).default(3072),
  num_hidden_layers: layers.default(12),
  num_attention_heads: size(TOWER_CONFIG_LIMITS.num_attention_heads).default(12),
  image_size: size(TOWER_CONFIG_LIMITS.image_size).default(224),
  patch_size: size(TOWER_CONFIG_LIMITS.patch_size).default(32),
  num_channels: z.literal(3).default(3),
  hidden_act: ClipActivation.default('quick_gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
  projection_dim: size(TOWER_CONFIG_LIMITS.projection_dim).default(512),
  initializer_range: z.number().positive().default(0.02),
  initializer_factor: z.number().positive().default(1),
});
/** Parsed {@link ClipVisionConfig}. */
export type ClipVisionConfig = z.infer<typeof ClipVisionConfig>;
/** Input of {@link ClipVisionConfig} (every field optional). */
export type ClipVisionConfigInput = z.input<typeof ClipVisionConfig>;

/**
 * The CLIP text tower's architecture, with the field names of Hugging Face's `CLIPTextConfig`
 * (defaults: OpenAI CLIP ViT-B/32's text tower, 77-token context).
 */
export const ClipTextConfig = z.object({
  vocab_size: size(TOWER_CONFIG_LIMITS.vocab_size).default(49408),
  hidden_size: size(TOWER_CONFIG_LIMITS.hidden_size).default(512),
  intermediate_size: size(TOWER_CONFIG_LIMITS.intermediate_size).default(2048),
  num_hidden_layers: layers.default(12),
  num_attention_heads: size(TOWER_CONFIG_LIMITS.num_attention_heads).default(8),
  max_position_embeddings: size(TOWER_CONFIG_LIMITS.max_position_embeddings).default(77),
  hidden_act: ClipActivation.default('quick_gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
  projection_dim: size(TOWER_CONFIG_LIMITS.projection_dim).default(512),
  pad_token_id: tokenId.default(1),
  bos_token_id: tokenId.default(49406),
  eos_token_id: tokenId.default(49407),
  initializer_range: z.number().positive().default(0.02),
  initializer_factor: z.number().positive().default(1),
});
/** Parsed {@link ClipTextConfig}. */
export type ClipTextConfig = z.infer<typeof ClipTextConfig>;
/** Input of {@link ClipTextConfig} (every field optional). */
export type ClipTextConfigInput = z.input<typeof ClipTextConfig>;

function parseWith<T>(schema: z.ZodType<T>, value: unknown, path: string | undefined, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Llm2ClipError('E_CONFIG', `invalid ${what}: ${issue.message}`, { path, field: issue.path.join('.') || undefined });
  }
  return result.data;
}

/**
 * Refuses a tower whose largest matrix or total parameter count is over
 * {@link TOWER_CONFIG_LIMITS} (`E_CONFIG` naming the field), before anything is allocated.
 */
export function checkTowerSize(matrices: ReadonlyArray<readonly [string, number]>, parameters: number, path: string | undefined): void {
  for (const [field, elements] of matrices) {
    if (elements > TOWER_CONFIG_LIMITS.tensorElements) {
      throw new Llm2ClipError('E_CONFIG', `a weight matrix of ${elements} elements (from ${field}) is over the ${TOWER_CONFIG_LIMITS.tensorElements}-element limit`, { path, field });
    }
  }
  if (parameters > TOWER_CONFIG_LIMITS.parameters) {
    throw new Llm2ClipError('E_CONFIG', `the config describes ${parameters} parameters, over the ${TOWER_CONFIG_LIMITS.parameters} limit`, { path, field: 'num_hidden_layers' });
  }
}

/** Refuses an image grid of more than {@link TOWER_CONFIG_LIMITS}`.patches` patches. */
export function checkPatchGrid(imageSize: number, patchSize: number, path: string | undefined): void {
  const patches = Math.ceil(imageSize / patchSize) ** 2;
  if (patches > TOWER_CONFIG_LIMITS.patches) {
    throw new Llm2ClipError('E_CONFIG', `image_size ${imageSize} / patch_size ${patchSize} gives ${patches} patches, over the ${TOWER_CONFIG_LIMITS.patches} limit`, { path, field: 'image_size' });
  }
}

/** Weights of the transformer layers of a CLIP tower (q/k/v/out, two LayerNorms, fc1/fc2, with biases). */
function clipEncoderParameters(hidden: number, intermediate: number, layers: number): number {
  return layers * (4 * (hidden * hidden + hidden) + 4 * hidden + 2 * hidden * intermediate + intermediate + hidden);
}

/** Parameters of a CLIP vision tower (`CLIPVisionModelWithProjection`) as `config` describes it. */
export function clipVisionParameterCount(config: ClipVisionConfig): number {
  const h = config.hidden_size;
  const positions = (config.image_size / config.patch_size) ** 2 + 1;
  return h + 3 * config.patch_size ** 2 * h + positions * h + 4 * h + clipEncoderParameters(h, config.intermediate_size, config.num_hidden_layers) + config.projection_dim * h;
}

/** Parameters of a CLIP text tower (`CLIPTextModelWithProjection`) as `config` describes it. */
export function clipTextParameterCount(config: ClipTextConfig): number {
  const h = config.hidden_size;
  return (config.vocab_size + config.max_position_embeddings) * h + 2 * h + clipEncoderParameters(h, config.intermediate_size, config.num_hidden_layers) + config.projection_dim * h;
}

function checkHeads(hidden: number, heads: number, path: string | undefined): void {
  if (hidden % heads !== 0) {
    throw new Llm2ClipError('E_CONFIG', `hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`, { path, field: 'num_attention_heads' });
  }
}

/**
 * Parses a vision config from a plain object: either a `CLIPVisionConfig` (top-level fields) or a
 * full `CLIPConfig` with `vision_config` (whose top-level `projection_dim` then applies).
 */
export function parseClipVisionConfig(json: unknown, path?: string): ClipVisionConfig {
  const object = (json ?? {}) as Record<string, unknown>;
  let fields: unknown = object;
  if (typeof object.vision_config === 'object' && object.vision_config !== null) {
    const nested = object.vision_config as Record<string, unknown>;
    fields = { ...nested, projection_dim: object.projection_dim ?? nested.projection_dim };
  }
  const config = parseWith(ClipVisionConfig, fields, path, 'CLIP vision config');
  checkHeads(config.hidden_size, config.num_attention_heads, path);
  if (config.image_size % config.patch_size !== 0) {
    throw new Llm2ClipError('E_CONFIG', `image_size ${config.image_size} is not a multiple of patch_size ${config.patch_size}`, { path, field: 'patch_size' });
  }
  checkPatchGrid(config.image_size, config.patch_size, path);
  const h = config.hidden_size;
  checkTowerSize([['intermediate_size', h * config.intermediate_size], ['projection_dim', h * config.projection_dim], ['patch_size', 3 * config.patch_size ** 2 * h]], clipVisionParameterCount(config), path);
  return config;
}

/**
 * Parses a text config from a plain object: either a `CLIPTextConfig` (top-level fields) or a full
 * `CLIPConfig` with `text_config`.
 */
export function parseClipTextConfig(json: unknown, path?: string): ClipTextConfig {
  const object = (json ?? {}) as Record<string, unknown>;
  let fields: unknown = object;
  if (typeof object.text_config === 'object' && object.text_config !== null) {
    const nested = object.text_config as Record<string, unknown>;
    fields = { ...nested, projection_dim: object.projection_dim ?? nested.projection_dim };
  }
  const config = parseWith(ClipTextConfig, fields, path, 'CLIP text config');
  checkHeads(config.hidden_size, config.num_attention_heads, path);
  const h = config.hidden_size;
  checkTowerSize([['vocab_size', h * config.vocab_size], ['intermediate_size', h * config.intermediate_size], ['projection_dim', h * config.projection_dim]], clipTextParameterCount(config), path);
  return config;
}

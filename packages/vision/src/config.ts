import { z } from 'zod';
import { Llm2ClipError } from '@llm2clip/core';

/** Activations CLIP configs use (`hidden_act`). */
export const ClipActivation = z.enum(['quick_gelu', 'gelu']);

/**
 * The vision tower's architecture, with the field names of Hugging Face's `CLIPVisionConfig`
 * (defaults: ViT-B/32). Unknown fields of a `config.json` are ignored.
 */
export const ClipVisionConfig = z.object({
  hidden_size: z.number().int().positive().default(768),
  intermediate_size: z.number().int().positive().default(3072),
  num_hidden_layers: z.number().int().nonnegative().default(12),
  num_attention_heads: z.number().int().positive().default(12),
  image_size: z.number().int().positive().default(224),
  patch_size: z.number().int().positive().default(32),
  num_channels: z.literal(3).default(3),
  hidden_act: ClipActivation.default('quick_gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
  projection_dim: z.number().int().positive().default(512),
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
  vocab_size: z.number().int().positive().default(49408),
  hidden_size: z.number().int().positive().default(512),
  intermediate_size: z.number().int().positive().default(2048),
  num_hidden_layers: z.number().int().nonnegative().default(12),
  num_attention_heads: z.number().int().positive().default(8),
  max_position_embeddings: z.number().int().positive().default(77),
  hidden_act: ClipActivation.default('quick_gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
  projection_dim: z.number().int().positive().default(512),
  pad_token_id: z.number().int().nonnegative().default(1),
  bos_token_id: z.number().int().nonnegative().default(49406),
  eos_token_id: z.number().int().nonnegative().default(49407),
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
  return config;
}

import { z } from 'zod';
import { Llm2ClipError } from '@llm2clip/core';
import { TOWER_CONFIG_LIMITS, checkPatchGrid, checkTowerSize } from './config.js';

const size = (max: number) => z.number().int().positive().max(max);

/**
 * The EVA02 vision tower's architecture (EVA-CLIP's `EVAVisionTransformer` with `naiveswiglu`,
 * `subln`, `rope`, `intp_freq`, `qkv_bias`; timm's `Eva` with `swiglu_mlp`, `scale_mlp`,
 * `scale_attn_inner`, `use_rot_pos_emb`). Field names follow Hugging Face's conventions; the
 * EVA-CLIP / timm names are given per field. Defaults: EVA02-CLIP-L/14 at 224 px.
 */
export const Eva02VisionConfig = z.object({
  /** `image_size` / `img_size`. */
  image_size: size(TOWER_CONFIG_LIMITS.image_size).default(224),
  /** `patch_size`. */
  patch_size: size(TOWER_CONFIG_LIMITS.patch_size).default(14),
  /** `width` / `embed_dim`. */
  hidden_size: size(TOWER_CONFIG_LIMITS.hidden_size).default(1024),
  /** `int(width · mlp_ratio)` (SwiGLU hidden width). */
  intermediate_size: size(TOWER_CONFIG_LIMITS.intermediate_size).default(2730),
  /** `layers` / `depth`. */
  num_hidden_layers: z.number().int().nonnegative().max(TOWER_CONFIG_LIMITS.num_hidden_layers).default(24),
  /** `width / head_width` / `num_heads`. */
  num_attention_heads: size(TOWER_CONFIG_LIMITS.num_attention_heads).default(16),
  /** EVA-CLIP's LayerNorm eps (1e-6, as timm's). */
  layer_norm_eps: z.number().positive().default(1e-6),
  /** `embed_dim` of the CLIP model = `num_classes` of timm's head. */
  projection_dim: size(TOWER_CONFIG_LIMITS.projection_dim).default(768),
  /** `pt_hw_seq_len` / `ref_feat_shape`: the grid the rotary frequencies were trained on. */
  rope_reference_grid: z.number().positive().max(TOWER_CONFIG_LIMITS.image_size).default(16),
  /** Rotary base (`theta` / `rope_temperature`). */
  rope_theta: z.number().positive().default(10000),
  initializer_range: z.number().positive().default(0.02),
});
/** Parsed {@link Eva02VisionConfig}. */
export type Eva02VisionConfig = z.infer<typeof Eva02VisionConfig>;
/** Input of {@link Eva02VisionConfig} (every field optional). */
export type Eva02VisionConfigInput = z.input<typeof Eva02VisionConfig>;

/** Parses and checks an {@link Eva02VisionConfig}. */
export function parseEva02VisionConfig(json: unknown, path?: string): Eva02VisionConfig {
  const result = Eva02VisionConfig.safeParse(json ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Llm2ClipError('E_CONFIG', `invalid EVA02 vision config: ${issue.message}`, { path, field: issue.path.join('.') || undefined });
  }
  const config = result.data;
  const headDim = config.hidden_size / config.num_attention_heads;
  if (!Number.isInteger(headDim) || headDim % 4 !== 0) {
    throw new Llm2ClipError('E_CONFIG', `head width ${headDim} must be an integer multiple of 4 (2-D rotary pairs)`, { path, field: 'num_attention_heads' });
  }
  if (config.image_size % config.patch_size !== 0) {
    throw new Llm2ClipError('E_CONFIG', `image_size ${config.image_size} is not a multiple of patch_size ${config.patch_size}`, { path, field: 'patch_size' });
  }
  checkPatchGrid(config.image_size, config.patch_size, path);
  const d = config.hidden_size;
  checkTowerSize([['intermediate_size', d * config.intermediate_size], ['projection_dim', d * config.projection_dim], ['patch_size', 3 * config.patch_size ** 2 * d]], eva02ParameterCount(config), path);
  return config;
}

/**
 * Parameters of an EVA02 tower as `config` describes it (class token, positions, patch
 * embedding, per block: two LayerNorms, q/k/v/proj with q/v/proj biases, sub-LN, SwiGLU with its
 * own LayerNorm; final norm and head).
 */
export function eva02ParameterCount(config: Eva02VisionConfig): number {
  const d = config.hidden_size;
  const inner = config.intermediate_size;
  const grid = config.image_size / config.patch_size;
  const block = 4 * d * d + 3 * d * inner + 10 * d + 4 * inner;
  return d + (grid * grid + 1) * d + 3 * config.patch_size ** 2 * d + d + config.num_hidden_layers * block + 2 * d + config.projection_dim * (d + 1);
}

type Json = Record<string, unknown>;

function reject(value: unknown, ok: (v: unknown) => boolean, field: string, what: string, path: string | undefined): void {
  if (value !== undefined && value !== null && !ok(value)) {
    throw new Llm2ClipError('E_CONFIG', `${field} = ${JSON.stringify(value)} is not supported (${what})`, { path, field });
  }
}

function side(value: unknown, fallback: number): number {
  if (Array.isArray(value)) return value[0] as number;
  return typeof value === 'number' ? value : fallback;
}

/**
 * An {@link Eva02VisionConfig} from an EVA-CLIP model config (`{embed_dim, vision_cfg}`, also as
 * `open_clip_config.json`'s `model_cfg`). Only the EVA02 variant (SwiGLU + sub-LN + 2-D RoPE with
 * interpolated frequencies, class-token pooling, no layer scale, pre-norm) is supported.
 */
export function evaClipVisionConfig(model: Record<string, unknown>, path?: string): Eva02VisionConfigInput {
  const v = (model.vision_cfg ?? {}) as Json;
  reject(v.naiveswiglu, (x) => x === true, 'vision_cfg.naiveswiglu', 'EVA02 uses the SwiGLU MLP', path);
  reject(v.subln, (x) => x === true, 'vision_cfg.subln', 'EVA02 uses sub-LN', path);
  reject(v.rope, (x) => x === true, 'vision_cfg.rope', 'EVA02 uses rotary positions', path);
  reject(v.postnorm, (x) => x === false, 'vision_cfg.postnorm', 'post-norm blocks', path);
  reject(v.ls_init_value, () => false, 'vision_cfg.ls_init_value', 'layer scale', path);
  reject(v.global_average_pool, (x) => x === false, 'vision_cfg.global_average_pool', 'average pooling', path);
  reject(v.qkv_bias, (x) => x === true, 'vision_cfg.qkv_bias', 'q/v biases are always present', path);
  if (v.naiveswiglu !== true || v.subln !== true || v.rope !== true) {
    throw new Llm2ClipError('E_CONFIG', 'vision_cfg must set naiveswiglu, subln and rope (an EVA02 tower)', { path, field: 'vision_cfg' });
  }
  const width = (v.width as number | undefined) ?? 768;
  const headWidth = (v.head_width as number | undefined) ?? 64;
  const imageSize = side(v.image_size, 224);
  const patch = side(v.patch_size, 16);
  const pt = (v.pt_hw_seq_len as number | undefined) ?? 16;
  if (v.intp_freq !== true && imageSize / patch !== pt) {
    throw new Llm2ClipError('E_CONFIG', 'vision_cfg.intp_freq false needs image_size / patch_size = pt_hw_seq_len', { path, field: 'vision_cfg.intp_freq' });
  }
  return {
    image_size: imageSize,
    patch_size: patch,
    hidden_size: width,
    intermediate_size: Math.trunc(width * ((v.mlp_ratio as number | undefined) ?? 4)),
    num_hidden_layers: (v.layers as number | undefined) ?? 12,
    num_attention_heads: width / headWidth,
    layer_norm_eps: 1e-6,
    projection_dim: (model.embed_dim as number | undefined) ?? 512,
    rope_reference_grid: v.intp_freq === true ? pt : imageSize / patch,
  };
}

/** timm's registered EVA02-CLIP vision towers (`timm/models/eva.py`), by architecture name. */
export const TIMM_EVA02_ARCHITECTURES: Record<string, Record<string, unknown>> = {
  eva02_base_patch16_clip_224: { img_size: 224, patch_size: 16, embed_dim: 768, depth: 12, num_heads: 12, mlp_ratio: (4 * 2) / 3, ref_feat_shape: [16, 16], num_classes: 512 },
  eva02_large_patch14_clip_224: { img_size: 224, patch_size: 14, embed_dim: 1024, depth: 24, num_heads: 16, mlp_ratio: (4 * 2) / 3, ref_feat_shape: [16, 16], num_classes: 768 },
  eva02_large_patch14_clip_336: { img_size: 336, patch_size: 14, embed_dim: 1024, depth: 24, num_heads: 16, mlp_ratio: (4 * 2) / 3, ref_feat_shape: [16, 16], num_classes: 768 },
};

/**
 * An {@link Eva02VisionConfig} from a timm `config.json` (`architecture`, optional `num_classes`
 * and `model_args` overriding the registered defaults of {@link TIMM_EVA02_ARCHITECTURES}).
 */
export function timmEvaVisionConfig(json: Record<string, unknown>, path?: string): Eva02VisionConfigInput {
  const architecture = json.architecture;
  const base = typeof architecture === 'string' ? TIMM_EVA02_ARCHITECTURES[architecture] : undefined;
  if (base === undefined) {
    throw new Llm2ClipError('E_CONFIG', `timm architecture ${JSON.stringify(architecture)} is not an EVA02-CLIP tower (${Object.keys(TIMM_EVA02_ARCHITECTURES).join(', ')})`, { path, field: 'architecture' });
  }
  const args: Json = { ...base, ...((json.model_args ?? {}) as Json) };
  const pretrained = (json.pretrained_cfg ?? {}) as Json;
  const numClasses = (json.model_args as Json | undefined)?.num_classes ?? json.num_classes ?? pretrained.num_classes ?? base.num_classes;
  reject(args.swiglu_mlp, (x) => x === true, 'model_args.swiglu_mlp', 'EVA02 uses SwiGLU', path);
  reject(args.scale_mlp, (x) => x === true, 'model_args.scale_mlp', 'EVA02 uses sub-LN', path);
  reject(args.scale_attn_inner, (x) => x === true, 'model_args.scale_attn_inner', 'EVA02 uses sub-LN', path);
  reject(args.use_rot_pos_emb, (x) => x === true, 'model_args.use_rot_pos_emb', 'EVA02 uses rotary positions', path);
  reject(args.global_pool, (x) => x === 'token', 'model_args.global_pool', 'class-token pooling only', path);
  reject(args.init_values, () => false, 'model_args.init_values', 'layer scale', path);
  reject(args.use_post_norm, (x) => x === false, 'model_args.use_post_norm', 'post-norm blocks', path);
  const embed = args.embed_dim as number;
  return {
    image_size: side(args.img_size, 224),
    patch_size: side(args.patch_size, 16),
    hidden_size: embed,
    intermediate_size: Math.trunc(embed * (args.mlp_ratio as number)),
    num_hidden_layers: args.depth as number,
    num_attention_heads: args.num_heads as number,
    layer_norm_eps: 1e-6,
    projection_dim: numClasses as number,
    rope_reference_grid: side(args.ref_feat_shape, side(args.img_size, 224) / side(args.patch_size, 16)),
    rope_theta: (args.rope_temperature as number | undefined) ?? 10000,
  };
}

/**
 * An {@link Eva02VisionConfig} from an open_clip model config whose vision tower is a timm EVA02
 * trunk (`vision_cfg.timm_model_name` such as `eva02_large_patch14_clip_224`, `timm_pool: 'token'`,
 * `timm_proj: null` — the trunk's own `head` is the projection; `timm_model_kwargs` override the
 * architecture), as open_clip's hub EVA02 checkpoints (`visual.trunk.*` names) use.
 */
export function openClipTimmEvaConfig(model: Record<string, unknown>, path?: string): Eva02VisionConfigInput {
  const v = (model.vision_cfg ?? {}) as Json;
  reject(v.timm_pool, (x) => x === 'token', 'vision_cfg.timm_pool', 'class-token pooling only', path);
  reject(v.timm_proj, () => false, 'vision_cfg.timm_proj', "only null (the trunk's head is the projection)", path);
  const kwargs = (v.timm_model_kwargs ?? {}) as Json;
  const embed = (model.embed_dim as number | undefined) ?? 512;
  return timmEvaVisionConfig({ architecture: v.timm_model_name, model_args: { ...kwargs, num_classes: embed } }, path);
}

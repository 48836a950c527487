import { Llm2ClipError } from '@llm2clip/core';
import type { HostTensor } from '@llm2clip/tensor';
import type { ClipTextConfigInput, ClipVisionConfigInput } from './config.js';
import { TIMM_EVA02_ARCHITECTURES } from './eva-config.js';

/** File names of an open_clip checkpoint directory (as `open_clip.push_to_hf_hub` writes it). */
export const OPEN_CLIP_CONFIG = 'open_clip_config.json';
/** Weights file of an open_clip checkpoint directory. */
export const OPEN_CLIP_WEIGHTS = 'open_clip_model.safetensors';

type Json = Record<string, unknown>;

function object(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function squareSize(value: unknown, path: string | undefined, field: string): number {
  const side = Array.isArray(value) ? value[0] : value;
  if (typeof side !== 'number' || (Array.isArray(value) && value[1] !== side)) {
    throw new Llm2ClipError('E_CONFIG', `${field} must be a number or a square [n, n]`, { path, field });
  }
  return side;
}

function rejectUnsupported(cfg: Json, checks: Array<[string, (v: unknown) => boolean, string]>, path: string | undefined, prefix: string): void {
  for (const [field, ok, what] of checks) {
    if (cfg[field] !== undefined && cfg[field] !== null && !ok(cfg[field])) {
      throw new Llm2ClipError('E_CONFIG', `${prefix}.${field} = ${JSON.stringify(cfg[field])} is not supported (${what})`, { path, field: `${prefix}.${field}` });
    }
  }
}

/** The `model_cfg` of an `open_clip_config.json` (or a bare open_clip / EVA-CLIP model config). */
export function openClipModelConfig(json: unknown): Record<string, unknown> {
  const root = object(json);
  return root.model_cfg !== undefined ? object(root.model_cfg) : root;
}

/**
 * True when an open_clip model config describes an EVA vision tower: EVA-CLIP's
 * (`vision_cfg.eva_model_name`) or a timm EVA02 trunk (`vision_cfg.timm_model_name` in
 * {@link TIMM_EVA02_ARCHITECTURES}).
 */
export function isEvaModelConfig(json: unknown): boolean {
  const vision = object(openClipModelConfig(json).vision_cfg);
  if (typeof vision.eva_model_name === 'string') return true;
  return typeof vision.timm_model_name === 'string' && vision.timm_model_name in TIMM_EVA02_ARCHITECTURES;
}

function layerNormEps(cfg: Json, path: string | undefined, prefix: string): number {
  const eps = object(cfg.norm_kwargs).eps;
  if (eps !== undefined && typeof eps !== 'number') throw new Llm2ClipError('E_CONFIG', `${prefix}.norm_kwargs.eps must be a number`, { path, field: `${prefix}.norm_kwargs.eps` });
  return (eps as number | undefined) ?? 1e-5;
}

/**
 * The Hugging Face `CLIPVisionConfig` fields equivalent to an open_clip ViT (`model_cfg`:
 * `embed_dim`, `quick_gelu`, `vision_cfg.{image_size, patch_size, width, layers, head_width,
 * mlp_ratio}`). Variants this tower cannot express (layer scale, attentional or average pooling,
 * no `ln_pre`, projection bias, timm or EVA trunks) are `E_CONFIG` errors naming the field.
 */
export function openClipVisionConfig(json: unknown, path?: string): ClipVisionConfigInput {
  const model = openClipModelConfig(json);
  const vision = object(model.vision_cfg);
  if (model.vision_cfg === undefined) throw new Llm2ClipError('E_CONFIG', 'open_clip config has no model_cfg.vision_cfg', { path, field: 'model_cfg.vision_cfg' });
  rejectUnsupported(vision, [
    ['timm_model_name', () => false, 'timm trunks'],
    ['eva_model_name', () => false, 'load EVA towers with Eva02VisionModel'],
    ['ls_init_value', () => false, 'layer scale'],
    ['attentional_pool', (v) => v === false, 'attentional pooling'],
    ['global_average_pool', (v) => v === false, 'average pooling'],
    ['pool_type', (v) => v === 'tok', 'only class-token pooling'],
    ['no_ln_pre', (v) => v === false, 'ln_pre is always applied'],
    ['proj_bias', (v) => v === false, 'projection bias'],
    ['proj_type', (v) => v === 'linear', 'only a linear projection'],
    ['patch_dropout', (v) => v === 0, 'patch dropout'],
  ], path, 'vision_cfg');
  const width = (vision.width as number | undefined) ?? 768;
  const headWidth = (vision.head_width as number | undefined) ?? 64;
  const mlpRatio = (vision.mlp_ratio as number | undefined) ?? 4;
  if (width % headWidth !== 0) throw new Llm2ClipError('E_CONFIG', `vision_cfg.width ${width} is not a multiple of head_width ${headWidth}`, { path, field: 'vision_cfg.head_width' });
  const imageSize = squareSize(vision.image_size ?? 224, path, 'vision_cfg.image_size');
  const patchSize = squareSize(vision.patch_size ?? 16, path, 'vision_cfg.patch_size');
  return {
    hidden_size: width,
    intermediate_size: Math.trunc(width * mlpRatio),
    num_hidden_layers: (vision.layers as number | undefined) ?? 12,
    num_attention_heads: width / headWidth,
    image_size: imageSize,
    patch_size: patchSize,
    hidden_act: model.quick_gelu === true ? 'quick_gelu' : 'gelu',
    layer_norm_eps: layerNormEps(vision, path, 'vision_cfg'),
    projection_dim: (model.embed_dim as number | undefined) ?? 512,
  };
}

/**
 * The Hugging Face `CLIPTextConfig` fields equivalent to an open_clip text transformer. open_clip
 * pools at the largest token id (`pool_type: 'argmax'`, CLIP's end token), which Hugging Face
 * expresses with the legacy `eos_token_id: 2`.
 */
export function openClipTextConfig(json: unknown, path?: string): ClipTextConfigInput {
  const model = openClipModelConfig(json);
  if (model.text_cfg === undefined) throw new Llm2ClipError('E_CONFIG', 'open_clip config has no model_cfg.text_cfg', { path, field: 'model_cfg.text_cfg' });
  const text = object(model.text_cfg);
  rejectUnsupported(text, [
    ['hf_model_name', () => false, 'Hugging Face text towers'],
    ['ls_init_value', () => false, 'layer scale'],
    ['pool_type', (v) => v === 'argmax', 'only argmax pooling'],
    ['embed_cls', (v) => v === false, 'a class token'],
    ['no_causal_mask', (v) => v === false, 'the causal mask'],
    ['proj_bias', (v) => v === false, 'projection bias'],
    ['proj_type', (v) => v === 'linear', 'only a linear projection'],
  ], path, 'text_cfg');
  const width = (text.width as number | undefined) ?? 512;
  return {
    vocab_size: (text.vocab_size as number | undefined) ?? 49408,
    hidden_size: width,
    intermediate_size: Math.trunc(width * ((text.mlp_ratio as number | undefined) ?? 4)),
    num_hidden_layers: (text.layers as number | undefined) ?? 12,
    num_attention_heads: (text.heads as number | undefined) ?? 8,
    max_position_embeddings: (text.context_length as number | undefined) ?? 77,
    hidden_act: model.quick_gelu === true ? 'quick_gelu' : 'gelu',
    layer_norm_eps: layerNormEps(text, path, 'text_cfg'),
    projection_dim: (model.embed_dim as number | undefined) ?? 512,
    pad_token_id: (text.pad_id as number | undefined) ?? 0,
    bos_token_id: 49406,
    eos_token_id: 2,
  };
}

/** A 2-D host tensor transposed (open_clip stores projections as `[width, embed]`, used as `x @ proj`). */
export function transposeHost(tensor: HostTensor): HostTensor {
  const [rows, cols] = tensor.shape;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = tensor.data[r * cols + c];
  return { shape: [cols, rows], dtype: 'float32', data: out };
}

/** Rows `[from, to)` of a host tensor's first axis. */
function sliceRows(tensor: HostTensor, from: number, to: number): HostTensor {
  const per = tensor.shape.slice(1).reduce((a, b) => a * b, 1);
  return { shape: [to - from, ...tensor.shape.slice(1)], dtype: 'float32', data: Float32Array.from(tensor.data.subarray(from * per, to * per)) };
}

const BLOCK_RENAMES: Array<[string, string]> = [
  ['ln_1.', 'layer_norm1.'],
  ['ln_2.', 'layer_norm2.'],
  ['attn.out_proj.', 'self_attn.out_proj.'],
  ['mlp.c_fc.', 'mlp.fc1.'],
  ['mlp.c_proj.', 'mlp.fc2.'],
];

/** Renames one open_clip `ResidualAttentionBlock` (splitting `in_proj`) into Hugging Face encoder-layer names. */
function convertBlocks(source: Map<string, HostTensor>, from: string, to: string, out: Map<string, HostTensor>, path: string | undefined): void {
  for (const [name, tensor] of source) {
    if (!name.startsWith(from)) continue;
    const match = /^(\d+)\.(.+)$/.exec(name.slice(from.length));
    if (match === null) throw new Llm2ClipError('E_FORMAT', `unexpected open_clip tensor ${name}`, { path, field: name });
    const [, layer, rest] = match;
    const prefix = `${to}.${layer}`;
    if (rest === 'attn.in_proj_weight' || rest === 'attn.in_proj_bias') {
      const width = tensor.shape[0] / 3;
      const kind = rest.endsWith('weight') ? 'weight' : 'bias';
      ['q_proj', 'k_proj', 'v_proj'].forEach((proj, i) => out.set(`${prefix}.self_attn.${proj}.${kind}`, sliceRows(tensor, i * width, (i + 1) * width)));
      continue;
    }
    const rename = BLOCK_RENAMES.find(([a]) => rest.startsWith(a));
    if (rename === undefined) throw new Llm2ClipError('E_FORMAT', `unexpected open_clip block tensor ${name}`, { path, field: name });
    out.set(`${prefix}.${rename[1]}${rest.slice(rename[0].length)}`, tensor);
  }
}

function take(source: Map<string, HostTensor>, name: string, path: string | undefined): HostTensor {
  const tensor = source.get(name);
  if (tensor === undefined) throw new Llm2ClipError('E_MISMATCH', `open_clip checkpoint lacks ${name}`, { path, field: name });
  return tensor;
}

/**
 * open_clip `visual.*` tensors under Hugging Face `CLIPVisionModelWithProjection` names:
 * `conv1` → `embeddings.patch_embedding`, `class_embedding`, `positional_embedding` →
 * `position_embedding.weight`, `ln_pre` → `pre_layrnorm`, `transformer.resblocks.N` →
 * `encoder.layers.N` (`in_proj_weight/bias` split into q/k/v, `ln_1/2` → `layer_norm1/2`,
 * `mlp.c_fc/c_proj` → `mlp.fc1/fc2`), `ln_post` → `post_layernorm`, `proj` `[width, embed]` →
 * `visual_projection.weight` `[embed, width]` (transposed).
 */
export function openClipVisionToHf(source: Map<string, HostTensor>, path?: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  out.set('vision_model.embeddings.class_embedding', take(source, 'visual.class_embedding', path));
  out.set('vision_model.embeddings.patch_embedding.weight', take(source, 'visual.conv1.weight', path));
  out.set('vision_model.embeddings.position_embedding.weight', take(source, 'visual.positional_embedding', path));
  for (const part of ['weight', 'bias']) {
    out.set(`vision_model.pre_layrnorm.${part}`, take(source, `visual.ln_pre.${part}`, path));
    out.set(`vision_model.post_layernorm.${part}`, take(source, `visual.ln_post.${part}`, path));
  }
  convertBlocks(source, 'visual.transformer.resblocks.', 'vision_model.encoder.layers', out, path);
  out.set('visual_projection.weight', transposeHost(take(source, 'visual.proj', path)));
  return out;
}

/**
 * open_clip text tensors (no prefix) under Hugging Face `CLIPTextModelWithProjection` names:
 * `token_embedding`, `positional_embedding` → `embeddings.position_embedding.weight`,
 * `transformer.resblocks.N` → `encoder.layers.N`, `ln_final` → `final_layer_norm`,
 * `text_projection` `[width, embed]` → `text_projection.weight` (transposed).
 */
export function openClipTextToHf(source: Map<string, HostTensor>, path?: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  out.set('text_model.embeddings.token_embedding.weight', take(source, 'token_embedding.weight', path));
  out.set('text_model.embeddings.position_embedding.weight', take(source, 'positional_embedding', path));
  for (const part of ['weight', 'bias']) out.set(`text_model.final_layer_norm.${part}`, take(source, `ln_final.${part}`, path));
  convertBlocks(source, 'transformer.resblocks.', 'text_model.encoder.layers', out, path);
  out.set('text_projection.weight', transposeHost(take(source, 'text_projection', path)));
  return out;
}

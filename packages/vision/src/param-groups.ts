/**
 * True for weights that AdamW should not decay: biases, norm scales/shifts, token/position/class
 * embeddings (Hugging Face, open_clip and EVA/timm names: `class_embedding`, `cls_token`,
 * `pos_embed`, `positional_embedding`, …) and the logit scale (open_clip's `exclude` rule: `ndim < 2`
 * or `bn`/`ln`/`bias`/`logit_scale`, plus the embedding tables).
 */
export function noWeightDecay(name: string): boolean {
  return (
    name.endsWith('.bias') ||
    name.endsWith('_bias') ||
    name === 'logit_scale' ||
    /(^|\.)(layer_norm\d*|layernorm|layrnorm|pre_layrnorm|post_layernorm|final_layer_norm|ln_\w+|norm\w*|\w*_norm)\./.test(name) ||
    name.endsWith('class_embedding') ||
    /(^|\.)(cls_token|pos_embed|positional_embedding)$/.test(name) ||
    name.includes('position_embedding') ||
    name.includes('token_embedding')
  );
}

/**
 * The block depth used for layer-wise decay: 0 for the embeddings and the pre-norm, `i + 1` for
 * block `i`, `numLayers + 1` for the final norm and the projection; `undefined` for weights outside
 * the vision tower. Knows Hugging Face CLIP names (`vision_model.*`, `visual_projection`) and
 * EVA02/timm names (`patch_embed`, `cls_token`, `pos_embed`, `blocks.N`, `norm`, `head`).
 */
export function visionLayerId(name: string, numLayers: number): number | undefined {
  if (name.startsWith('vision_model.embeddings.') || name.startsWith('vision_model.pre_layrnorm.')) return 0;
  if (name.startsWith('patch_embed.') || name === 'cls_token' || name === 'pos_embed') return 0;
  const block = /^(?:vision_model\.encoder\.layers|blocks)\.(\d+)\./.exec(name);
  if (block !== null) return Number(block[1]) + 1;
  if (name.startsWith('vision_model.') || name.startsWith('visual_projection.')) return numLayers + 1;
  if (name.startsWith('norm.') || name.startsWith('head.')) return numLayers + 1;
  return undefined;
}

/**
 * Layer-wise learning-rate decay (BEiT/EVA style) for the vision tower: `decay^(L + 1 − id)`, where
 * `id` is {@link visionLayerId}. Weights outside the vision tower (text side, adapter, logit scale)
 * get 1.
 */
export function layerDecayScale(name: string, numLayers: number, decay: number): number {
  const layerId = visionLayerId(name, numLayers);
  return layerId === undefined ? 1 : decay ** (numLayers + 1 - layerId);
}

/** One weight's optimizer settings from {@link visionParamGroups}. */
export interface ParamGroupEntry {
  /** Weight name. */
  name: string;
  /** False for {@link noWeightDecay} weights. */
  weightDecay: boolean;
  /** Learning-rate multiplier from {@link layerDecayScale} (1 without `layerDecay`). */
  lrScale: number;
}

/**
 * Weight-decay and layer-decay settings for each of `names` (e.g. `tower.parameters.trainableNames()`),
 * ready for an AdamW `groupOf`: `weightDecay` false for biases, norms, embeddings, class token,
 * positions and the logit scale; `lrScale` = `layerDecay^(L + 1 − depth)` when `layerDecay` is given.
 */
export function visionParamGroups(names: readonly string[], numLayers: number, options: { layerDecay?: number } = {}): ParamGroupEntry[] {
  return names.map((name) => ({
    name,
    weightDecay: !noWeightDecay(name),
    lrScale: options.layerDecay === undefined ? 1 : layerDecayScale(name, numLayers, options.layerDecay),
  }));
}

/**
 * True for weights that AdamW should not decay: biases, norm scales/shifts, token/position/class
 * embeddings and the logit scale (open_clip's `exclude` rule: `ndim < 2` or `bn`/`ln`/`bias`/
 * `logit_scale`, plus the embedding tables).
 */
export function noWeightDecay(name: string): boolean {
  return (
    name.endsWith('.bias') ||
    name === 'logit_scale' ||
    /(^|\.)(layer_norm\d*|layernorm|layrnorm|pre_layrnorm|post_layernorm|final_layer_norm|ln_\w+|norm\w*)\./.test(name) ||
    name.endsWith('class_embedding') ||
    name.includes('position_embedding') ||
    name.includes('token_embedding')
  );
}

/**
 * Layer-wise learning-rate decay (BEiT/EVA style) for the vision tower: `decay^(L + 1 − id)`, where
 * `id` is 0 for the embeddings and `pre_layrnorm`, `i + 1` for encoder block `i`, and `L + 1` for
 * `post_layernorm` and the projection. Weights outside `vision_model.` / `visual_projection.` (text
 * side, adapter, logit scale) get 1.
 */
export function layerDecayScale(name: string, numLayers: number, decay: number): number {
  let layerId: number;
  if (name.startsWith('vision_model.embeddings.') || name.startsWith('vision_model.pre_layrnorm.')) {
    layerId = 0;
  } else {
    const block = /^vision_model\.encoder\.layers\.(\d+)\./.exec(name);
    if (block !== null) layerId = Number(block[1]) + 1;
    else if (name.startsWith('vision_model.') || name.startsWith('visual_projection.')) layerId = numLayers + 1;
    else return 1;
  }
  return decay ** (numLayers + 1 - layerId);
}

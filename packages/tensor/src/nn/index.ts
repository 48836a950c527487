export { linear } from './linear.js';
export { layerNorm, rmsNorm } from './norm.js';
export { gelu, quickGelu, silu, geluTanh, activation, type ActivationName } from './activations.js';
export { MASKED_SCORE, splitHeads, mergeHeads, attentionBias, scaledDotProductAttention } from './attention.js';
export { softmaxCrossEntropy, l2Normalize, clipContrastiveLoss } from './losses.js';

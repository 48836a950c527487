/**
 * `@llm2clip/caption-contrastive`: stage 1 of LLM2CLIP — brief causal-LM pretraining of a small
 * decoder, then caption-contrastive fine-tuning with LoRA and bidirectional attention, which turns
 * the LLM into the caption embedder that stage 2 distils into CLIP.
 *
 * @packageDocumentation
 */
export { captionContrastiveLoss, DEFAULT_CC_SCALE } from './cc-loss.js';
export { captionTriple, captionTriples, type CaptionTriple } from './pairs.js';
export { BatchCursor, type BatchCursorState } from './batch-cursor.js';
export { lengthGroups, embedRows, embedInLengthGroups, inversePermutation, type LengthGroupOptions } from './length-groups.js';
export { contrastiveGradients, type ContrastiveGradients } from './grad-cache.js';
export {
  pretrainCausalLm,
  CausalLmPretrainConfigSchema,
  type CausalLmPretrainConfig,
  type CausalLmPretrainOptions,
  type CausalLmPretrainResult,
} from './pretrain-causal-lm.js';
export {
  trainCaptionContrastive,
  CaptionContrastiveConfigSchema,
  STAGE1_PHASE,
  type CaptionContrastiveConfig,
  type CaptionContrastiveOptions,
  type CaptionContrastiveResult,
  type CraEvalHook,
} from './trainer.js';

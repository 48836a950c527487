/**
 * `@llm2clip/caption-contrastive`: stage 1 of LLM2CLIP — brief causal-LM pretraining of a small
 * decoder, then caption-contrastive fine-tuning with LoRA and bidirectional attention, which turns
 * the LLM into the caption embedder that stage 2 distils into CLIP.
 *
 * @packageDocumentation
 */
export { captionContrastiveLoss, DEFAULT_CC_SCALE } from './cc-loss.js';
export { captionTriple, captionTriples, type CaptionTriple, type CaptionDirection, type CaptionedSample } from './pairs.js';
export { readTextPairsJsonl, type TextPair, type TextPairSource, type ReadTextPairsResult } from './text-pairs.js';
export { MixedBatchCursor, type SourceBatch } from './mixed-batches.js';
export {
  trainMntp,
  maskTokens,
  mntpLoss,
  resolveMaskTokenId,
  MntpConfigSchema,
  MNTP_PHASE,
  DEFAULT_MNTP_MASK_TOKEN,
  type MntpConfig,
  type MntpOptions,
  type MntpResult,
  type MaskedBatch,
  type MaskTokensOptions,
} from './mntp.js';
export {
  writeEmbedderConfig,
  LLM2VEC_CONFIG_FILE,
  STAGE1_EMBEDDER_FILE,
  STAGE1_EMBEDDER_FORMAT,
  STAGE1_EMBEDDER_VERSION,
  type EmbedderFacts,
} from './llm2vec-config.js';
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
  LLM2CLIP_CAPTION_INSTRUCTIONS,
  type CaptionContrastiveConfig,
  type CaptionContrastiveOptions,
  type CaptionContrastiveResult,
  type CraEvalHook,
} from './trainer.js';
export {
  Stage1RunConfigSchema,
  CaptionDataSchema,
  TextPairFileSchema,
  STAGE1_CONFIG_FORMAT,
  STAGE1_CONFIG_VERSION,
  loadStage1RunConfig,
  parseStage1RunConfig,
  setConfigField,
  type Stage1RunConfig,
  type Stage1RunConfigInput,
} from './run-config.js';
export { runStage1, loadCaptionedSamples, type RunStage1Options, type Stage1RunResult, type CraEvaluator } from './run-stage1.js';
export { localCaptionContrastiveLoss } from './local-loss.js';
export { distributedContrastiveGradients } from './distributed-grad-cache.js';
export {
  dataParallelGroup,
  assignPasses,
  rowBlock,
  allReduceGradients,
  sumOverRanks,
  requireSameStartStep,
  broadcastFromRoot,
  type DataParallelGroup,
} from './data-parallel.js';

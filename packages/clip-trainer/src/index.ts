/**
 * `@llm2clip/clip-trainer`: stage 2 of LLM2CLIP — the caption embedding cache written once by
 * the frozen LLM, the text adapter, and the CLIP trainer for the LLM2CLIP text side and the
 * CLIP-text-tower baseline, plus the trained model's embedders for evaluation.
 *
 * @packageDocumentation
 */
export {
  EMBEDDINGS_TENSOR,
  EmbeddingCache,
  EmbeddingCacheWriter,
  checkCacheCoverage,
  type EmbeddingCacheOpenOptions,
  type EmbeddingCacheWriterOptions,
} from './embedding-cache.js';
export { embedCaptions, type EmbedCaptionsOptions } from './embed-captions.js';
export { ADAPTER_FORMAT, ADAPTER_VERSION, ADAPTER_WEIGHTS_FILE, TextAdapter, TextAdapterConfig, type TextAdapterConfigInput } from './adapter.js';
export { chooseCaption, CachedEmbeddingTextSide, ClipTowerTextSide, type CaptionedSample, type TextSide } from './text-side.js';
export { trainClip, type TrainClipOptions, type TrainClipResult, type Llm2ClipTextOptions, type BaselineTextOptions } from './trainer.js';
export {
  CLIP_MODEL_FORMAT,
  CLIP_MODEL_VERSION,
  LLM2CLIP_TEXT_PROJ_FILE,
  AdapterTextEmbedder,
  TrainedClipModel,
  saveClipModel,
  loadClipModel,
  type TrainedTextTower,
} from './exported-model.js';
export { resolveShardSpec, assignShards, type ShardSpec, type ShardAssignment } from './shard-spec.js';
export {
  EMBEDDING_SHARD_FORMAT,
  EMBEDDING_SHARD_VERSION,
  SHARD_RECORD_SUFFIX,
  embedShards,
  mergeEmbeddingShards,
  inputShardsFromPaths,
  inputShardsFromSource,
  sidecarBaseNames,
  type EmbedInputShard,
  type EmbeddingShardRecord,
  type EmbedShardsOptions,
  type EmbedShardsResult,
  type MergedEmbeddingManifest,
  type MergeEmbeddingShardsOptions,
} from './sharded-embed.js';
export {
  LOGIT_SCALE,
  contrastiveGradients,
  type ContrastiveTower,
  type MicroBatchInputs,
  type ContrastiveGradients,
  type ContrastiveParallelOptions,
} from './contrastive-step.js';
export { localRows, type DataParallelRank, type LocalRows } from './data-parallel.js';
export { gatheredClipLoss } from './gathered-clip-loss.js';
export { rowAugmentationRng, augmentRows } from './row-augmentation.js';
export { lockStore } from './tower-lock.js';
export { DEFAULT_LOGIT_SCALE, readPretrainedLogitScale } from './pretrained-logit-scale.js';
export { CachedTeacherEmbedder } from './cached-teacher.js';
export {
  CLIP_TRAIN_CONFIG_FORMAT,
  CLIP_TRAIN_CONFIG_VERSION,
  ClipDataConfig,
  ClipEvalConfig,
  ClipTrainConfig,
  parseClipTrainConfig,
  trainOptionsFromConfig,
  type ClipTrainConfigInput,
} from './clip-train-config.js';
export { LLM2CLIP_CAPTION_FIELDS, writeLlm2ClipColumnTars, type Llm2ClipColumnTarOptions } from './llm2clip-column-tars.js';


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
  AdapterTextEmbedder,
  TrainedClipModel,
  saveClipModel,
  loadClipModel,
  type TrainedTextTower,
} from './exported-model.js';

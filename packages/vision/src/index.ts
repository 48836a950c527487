/**
 * `@llm2clip/vision`: the CLIP ViT image tower (Hugging Face `CLIPVisionModelWithProjection`
 * layout), the CLIP text tower for the baseline, a `tokenizer.json`-based 77-token tokenizer,
 * CLIP image preprocessing with sharp, embedders for evaluation and parameter-group helpers
 * for training.
 *
 * @packageDocumentation
 */
export {
  ClipActivation,
  ClipVisionConfig,
  ClipTextConfig,
  parseClipVisionConfig,
  parseClipTextConfig,
  type ClipVisionConfigInput,
  type ClipTextConfigInput,
} from './config.js';
export { ClipVisionModel } from './vit.js';
export { ClipTextModel } from './clip-text.js';
export { ClipTextTokenizer, type ClipTextTokenizerOptions, type TokenizedBatch } from './clip-tokenizer.js';
export {
  ImagePreprocessor,
  OPENAI_CLIP_MEAN,
  OPENAI_CLIP_STD,
  randomResizedCropBox,
  type ImagePreprocessorOptions,
  type RandomResizedCropOptions,
  type CropBox,
} from './preprocess.js';
export { ClipImageEmbedder, type ClipImageEmbedderOptions } from './image-embedder.js';
export { ClipTextEmbedder, type ClipTextEmbedderOptions } from './text-embedder.js';
export { noWeightDecay, layerDecayScale } from './param-groups.js';
export { readConfigJson, readModelWeights } from './hf-weights.js';

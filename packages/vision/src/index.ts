/**
 * `@llm2clip/vision`: CLIP ViT image towers (Hugging Face `CLIPVisionModel(WithProjection)` /
 * `CLIPModel` and open_clip layouts), the EVA02 tower of EVA-CLIP (EVA-CLIP and timm layouts), the
 * CLIP text tower for the baseline, a `tokenizer.json`-based 77-token tokenizer, CLIP image
 * preprocessing (sharp decoding, Pillow-exact bicubic resize), embedders for evaluation, lock
 * groups and parameter-group helpers for training.
 *
 * @packageDocumentation
 */
export {
  ClipActivation,
  ClipVisionConfig,
  ClipTextConfig,
  parseClipVisionConfig,
  parseClipTextConfig,
  TOWER_CONFIG_LIMITS,
  clipVisionParameterCount,
  clipTextParameterCount,
  type ClipVisionConfigInput,
  type ClipTextConfigInput,
} from './config.js';
export { ClipVisionModel, type ClipVisionLoadOptions, type ClipVisionSaveOptions } from './vit.js';
export { Eva02VisionModel, evaClipToTimmNames, type Eva02LoadOptions, type Eva02SaveOptions } from './eva-vit.js';
export {
  Eva02VisionConfig,
  parseEva02VisionConfig,
  evaClipVisionConfig,
  timmEvaVisionConfig,
  openClipTimmEvaConfig,
  TIMM_EVA02_ARCHITECTURES,
  eva02ParameterCount,
  type Eva02VisionConfigInput,
} from './eva-config.js';
export { loadVisionTower, type VisionTower } from './vision-tower.js';
export {
  OPEN_CLIP_CONFIG,
  OPEN_CLIP_WEIGHTS,
  openClipModelConfig,
  openClipVisionConfig,
  openClipTextConfig,
  openClipVisionToHf,
  openClipTextToHf,
  isEvaModelConfig,
  transposeHost,
} from './open-clip.js';
export { resizePositionEmbedding, type PositionInterpolation } from './position-embedding.js';
export { resizeBicubicFloat, pilBicubicFilter, pilTaps, type FloatGrid, type BicubicFloatOptions } from './bicubic.js';
export { resizeBicubicPil, cropRaw } from './pil-resize.js';
export { patchEmbed } from './patchify.js';
export { rope2dTables, rotateHalfMatrix } from './rope-2d.js';
export { lockGroups, applyLock, type LockGroups } from './layer-groups.js';
export { saveCompanion, readCompanion, type Companion } from './companion.js';
export { ClipTextModel } from './clip-text.js';
export { ClipTextTokenizer, type ClipTextTokenizerOptions, type TokenizedBatch } from './clip-tokenizer.js';
export {
  ImagePreprocessor,
  OPENAI_CLIP_MEAN,
  OPENAI_CLIP_STD,
  randomResizedCropBox,
  roundHalfEven,
  shortestEdgeSize,
  centerCropBoxOf,
  type Resample,
  type CenterCropRounding,
  type ImagePreprocessorOptions,
  type RandomResizedCropOptions,
  type CropBox,
} from './preprocess.js';
export { ClipImageEmbedder, type ClipImageEmbedderOptions } from './image-embedder.js';
export { ClipTextEmbedder, type ClipTextEmbedderOptions } from './text-embedder.js';
export { noWeightDecay, layerDecayScale, visionLayerId, visionParamGroups, type ParamGroupEntry } from './param-groups.js';
export { readConfigJson, readModelWeights, fileExists } from './hf-weights.js';
export { readCheckedModelWeights } from './model-files.js';

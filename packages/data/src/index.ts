/**
 * `@llm2clip/data`: webdataset tar shards and the sample source that reads them, tar IO, image
 * decoding, batching, and the synthetic LLM2CLIP dataset — scenes of coloured shapes rendered to
 * PNG, each with short and long captions whose distinguishing details often lie past CLIP's
 * 77-token window, plus a word-level `tokenizer.json` over the closed caption vocabulary.
 *
 * @packageDocumentation
 */

// webdataset and IO
export { readTarEntries, writeTarAtomic, type TarEntry, type ReadTarOptions, type WriteTarOptions } from './tar.js';
export { expandBraces } from './expand-braces.js';
export { WebDatasetSource, SKIP_REASONS, splitMemberName, type SkipReason, type WebDatasetOptions } from './webdataset-source.js';
export { decodeImage, encodePng, DEFAULT_LIMIT_INPUT_PIXELS, type DecodeImageOptions } from './image-codec.js';
export { batchSamples, type BatchOptions } from './batch.js';
export {
  buildWordLevelTokenizerJson,
  buildTokenizerConfigJson,
  SPECIAL_TOKEN_ORDER,
  type WordLevelTokenizerOptions,
  type WordLevelTokenizerJson,
  type TokenizerConfigJson,
  type AddedTokenJson,
} from './tokenizer-json.js';

// synthetic dataset
export { COLOURS, COLOUR_NAMES, colourRgb, backgroundRgb, textureShade, nearestColour, type ColourName, type Rgb } from './synthetic/palette.js';
export {
  generateScene,
  sceneSignature,
  backgroundColours,
  SHAPES,
  SIZES,
  TEXTURES,
  BACKGROUND_PATTERNS,
  POSITIONS,
  GRID_SIZE,
  MAX_OBJECTS,
  SIZE_SCALE,
  type Scene,
  type SceneObject,
  type SceneBackground,
  type SceneOptions,
  type Shape,
  type Size,
  type Texture,
  type BackgroundPattern,
  type PositionName,
} from './synthetic/scene.js';
export { renderScene, insideShape, DEFAULT_IMAGE_SIZE, type RenderOptions } from './synthetic/render.js';
export {
  CAPTION_TEMPLATES,
  SLOT_VALUES,
  PHRASE_SLOTS,
  RELATIONS,
  fillTemplate,
  templateSlots,
  type TemplatePool,
  type SlotKind,
  type SlotValues,
  type Phrase,
} from './synthetic/caption-templates.js';
export {
  shortCaption,
  longCaption,
  sampleCaptions,
  relationOf,
  bySalience,
  countWords,
  CAPTION_KINDS,
  SHORT_CAPTION_WORDS,
  LONG_CAPTION_WORDS,
  type SampleCaptions,
} from './synthetic/captions.js';
export { captionVocabulary, splitWords, outOfVocabularyWords, SPECIAL_TOKENS } from './synthetic/vocabulary.js';
export {
  analyseLongCaption,
  summariseLongCaptions,
  measureLongCaptions,
  CLIP_CONTEXT_LENGTH,
  type LongCaptionAnalysis,
  type LongCaptionStatistics,
} from './synthetic/caption-statistics.js';
export {
  writeSyntheticDataset,
  openSyntheticSplit,
  readSyntheticDatasetManifest,
  SYNTHETIC_DATASET_FORMAT,
  SYNTHETIC_DATASET_VERSION,
  SYNTHETIC_GENERATOR_VERSION,
  type SyntheticDatasetOptions,
  type SyntheticDatasetInfo,
  type SyntheticDatasetManifest,
  type SyntheticSplitInfo,
  type SyntheticSplit,
} from './synthetic/write-dataset.js';

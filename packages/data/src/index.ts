/**
 * `@llm2clip/data`: sample sources for the dataset formats people have (webdataset shards local
 * or over HTTP, LLM2CLIP embedding sidecars, open_clip CSV, JSONL, COCO, Karpathy splits,
 * ShareGPT4V, DOCCI, Urban-1k, class folders, CLIP_benchmark), shard manifests, a skip report for
 * bad samples, the data loader (worker-thread decoding, pluggable transforms, seeded shuffling,
 * resumable cursor, caption selection, prefetch), tar IO, image decoding, batching, and the synthetic LLM2CLIP dataset — scenes of coloured shapes rendered to
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

// robustness, manifests and the other dataset formats
export { DATA_LIMITS, checkFileSize } from './limits.js';
export { readCappedLines, type CappedLine } from './sources/capped-lines.js';
export { SkipReport, DATA_SKIP_REASONS, describeSkip, type DataSkipReason, type SkipEvent, type SkipReportOptions, type SkipSummary } from './skip-report.js';
export { openByteStream, isHttpUrl } from './open-stream.js';
export { readMemberGroups, isTruncation, type MemberGroup, type SampleMember, type MemberGroupOptions } from './sources/tar-groups.js';
export { joinSidecar, sidecarPath, decodeEmbedding, type SidecarOptions } from './sources/sidecar-join.js';
export { openLlm2ClipShards, LLM2CLIP_CAPTION_KEYS, type Llm2ClipShardsOptions } from './sources/llm2clip-source.js';
export {
  readShardSizes,
  countShardSamples,
  openWebDataset,
  SHARD_MANIFEST_FORMAT,
  SHARD_MANIFEST_VERSION,
  SHARD_MANIFEST_FILE,
  SIZES_JSON_FILE,
  type ShardManifest,
  type CountShardsOptions,
  type OpenWebDatasetOptions,
} from './manifest.js';
export {
  IndexedSource,
  resolveImagePath,
  readAnnotationJson,
  readAnnotationText,
  type IndexRecord,
  type IndexedSourceOptions,
  type IndexedSourcePart,
} from './sources/indexed-source.js';
export { CsvSource, readCsvIndex, uniqueKey, type CsvSourceOptions } from './sources/csv-source.js';
export { JsonlSource, readJsonlIndex, readJsonLines, captionStrings, type JsonlSourceOptions } from './sources/jsonl-source.js';
export { CocoCaptionsSource, readCocoIndex } from './sources/coco-source.js';
export { KarpathySplitSource, readKarpathyIndex, type KarpathySplitOptions } from './sources/karpathy-source.js';
export { ShareGpt4vSource, readShareGpt4vIndex } from './sources/sharegpt4v-source.js';
export { DocciSource, readDocciIndex, type DocciSourceOptions } from './sources/docci-source.js';
export { Urban1kSource, readUrban1kIndex } from './sources/urban1k-source.js';
export { ImageFolderSource, readImageFolderIndex, type ImageFolderOptions } from './sources/image-folder-source.js';
export { readClassnames, readTemplates, readTextLines, readTextLocation } from './sources/text-lines.js';
export { openClipBenchmarkDataset, type ClipBenchmarkDataset, type ClipBenchmarkOptions } from './sources/clip-benchmark-source.js';

// pipeline
export {
  DataLoader,
  type DataLoaderOptions,
  type LoaderBatch,
  type LoaderItem,
  type TransformContext,
} from './pipeline/data-loader.js';
export { DecodePool, type DecodePoolOptions } from './pipeline/decode-pool.js';
export type { DecodeJob, DecodeSettings } from './pipeline/decode-job.js';
export type { WorkerTransform, WorkerTransformInput, WorkerTransformSpec } from './pipeline/worker-transform.js';
export { DATA_CURSOR_FORMAT, DATA_CURSOR_VERSION, initialCursor, parseDataCursor, type DataCursor } from './pipeline/data-cursor.js';
export { pickCaptions, assignHardNegatives, wordOverlap, type CaptionSelection, type CaptionPair, type PickedCaptions } from './pipeline/caption-selection.js';
export { sampleSeed } from './pipeline/sample-seed.js';

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
export { photoLikeJpeg } from './synthetic/photo-like.js';
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
export {
  writeFlickrLikeSplit,
  writeUrbanLikeSplit,
  writeClassFolderSplit,
  SYNTHETIC_EVAL_FORMAT,
  SYNTHETIC_EVAL_VERSION,
  SYNTHETIC_ZERO_SHOT_TEMPLATES,
  type SyntheticEvalOptions,
  type SyntheticEvalInfo,
  type FlickrLikeOptions,
  type UrbanLikeOptions,
  type ClassFolderOptions,
} from './synthetic/eval-splits.js';

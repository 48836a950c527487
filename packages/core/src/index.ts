/**
 * `@llm2clip/core`: the contracts every llm2clip-ts package speaks — embedder and data
 * interfaces, the embedding-cache manifest, typed errors, progress and metrics logging,
 * a seeded RNG and atomic file writes.
 *
 * @packageDocumentation
 */
export { INTERFACE_VERSION } from './version.js';
export { ERROR_CODES, Llm2ClipError, isLlm2ClipError, type ErrorCode, type ErrorContext } from './errors.js';
export { embeddingMatrix, matrixRow, concatRows, l2NormalizeRows, type EmbeddingMatrix } from './matrix.js';
export type { ModelDescription, EmbedOptions, TextEmbedder, ImageEmbedder } from './embedder.js';
export type { ImageRef, EncodedImage, RawImage, Sample, SampleIterationOptions, SampleSource } from './sample.js';
export {
  EMBEDDING_CACHE_FORMAT,
  EMBEDDING_CACHE_VERSION,
  type EmbeddingShardInfo,
  type EmbeddingManifest,
  type SampleEmbeddings,
  type EmbeddingStore,
  type EmbeddingStoreWriter,
} from './embedding-store.js';
export { silentProgress, type ProgressEvent, type ProgressCallback } from './progress.js';
export { JsonlMetricsLogger, readMetricsJsonl, type MetricsLogger, type MetricsRecord } from './metrics-log.js';
export { writeFileAtomic, writeJsonAtomic, writeDirectoryAtomic, writeFilePlain, removeStaleTempSiblings } from './atomic-write.js';
export { Rng, type RngState } from './rng.js';
export { fingerprint } from './fingerprint.js';

/**
 * `@llm2clip/eval`: evaluation of any `TextEmbedder` / `ImageEmbedder` pair from
 * `@llm2clip/core` — blockwise cosine similarity and top-k, image–text retrieval metrics
 * (R@k, mean/median rank, as open_clip and CLIP_benchmark define them), LLM2CLIP's caption
 * retrieval accuracy (CRA), and versioned reports (`report.json` + `report.md`).
 *
 * @packageDocumentation
 */
export {
  cosineSimilarity,
  similarityBlocks,
  type SimilarityMatrix,
  type SimilarityBlock,
  type SimilarityOptions,
} from './similarity.js';
export { ranksBefore, rankOf, bestRankOf, topKIndices, topK, type TopKResult } from './top-k.js';
export {
  DEFAULT_KS,
  retrievalRanks,
  retrievalMetrics,
  metricsFromRanks,
  summarizeRanks,
  type RecallAtK,
  type DirectionMetrics,
  type RetrievalCounts,
  type RetrievalMetrics,
  type RetrievalRanks,
  type RetrievalOptions,
} from './retrieval.js';
export {
  captionRetrievalAccuracy,
  evaluateCra,
  craCaptionPairs,
  type CraScores,
  type CraResult,
  type EvaluateCraOptions,
} from './cra.js';
export { ALL_CAPTIONS, type CaptionFilter, type CaptionSelector } from './caption-selector.js';
export {
  evaluateRetrieval,
  evaluateRetrievalByKind,
  type RetrievalEvaluationBase,
  type EvaluateRetrievalOptions,
  type EvaluateRetrievalByKindOptions,
  type RetrievalResult,
} from './evaluate-retrieval.js';
export {
  REPORT_FORMAT,
  REPORT_VERSION,
  METRIC_UNITS,
  createReport,
  validateReport,
  writeReport,
  readReport,
  settingsKey,
  type MetricUnit,
  type ReportSettings,
  type ReportModel,
  type ReportResult,
  type Report,
  type CreateReportInput,
  type WrittenReport,
} from './report.js';
export { renderReportMarkdown, formatMetricValue, metricLabel } from './report-markdown.js';
export { reportModel, type Describable } from './report-model.js';
export {
  retrievalReportRows,
  craReportRows,
  type RetrievalReportRowsInput,
  type CraReportRowsInput,
} from './report-rows.js';

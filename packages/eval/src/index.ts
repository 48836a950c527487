/**
 * `@llm2clip/eval`: evaluation of any `TextEmbedder` / `ImageEmbedder` pair from
 * `@llm2clip/core` — blockwise cosine similarity and top-k, image–text retrieval metrics
 * (R@k, mean/median rank, as open_clip and CLIP_benchmark define them), LLM2CLIP's caption
 * retrieval accuracy (CRA), zero-shot classification and linear probes, benchmark adapters over
 * any `SampleSource` with an on-disk feature cache, and versioned reports (`report.json`,
 * `report.md`, a self-contained `report.html` with plots) that two runs can be compared by.
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
  type WriteReportOptions,
  type ReportDataset,
} from './report.js';
export { REPORT_SCHEMA } from './report-schema.js';
export { renderReportHtml, type ReportHtmlExtras } from './report-html.js';
export { lineChartSvg, barChartSvg, niceTicks, escapeXml, CHART_COLOURS, type LineSeries, type BarSeries } from './svg-charts.js';
export { thumbnailDataUri, type ThumbnailOptions } from './thumbnail.js';
export type { ExampleQuery, ExampleHit } from './example-queries.js';
export {
  compareReports,
  formatDelta,
  renderComparisonText,
  renderComparisonMarkdown,
  renderComparisonHtml,
  writeComparison,
  type ComparedMetric,
  type ReportComparison,
  type WrittenComparison,
} from './compare.js';
export { renderReportMarkdown, formatMetricValue, metricLabel } from './report-markdown.js';
export { reportModel, type Describable } from './report-model.js';
export {
  retrievalReportRows,
  craReportRows,
  type RetrievalReportRowsInput,
  type CraReportRowsInput,
} from './report-rows.js';
export {
  CLASS_PLACEHOLDER,
  DEFAULT_CLASSIFICATION_KS,
  fillClassTemplate,
  buildZeroShotClassifier,
  averageTemplateEmbeddings,
  zeroShotMetrics,
  classificationMetricsFromScores,
  type ZeroShotClassifier,
  type ZeroShotClassifierOptions,
  type ClassificationMetrics,
  type ClassificationOptions,
} from './zero-shot.js';
export {
  trainLogisticRegression,
  logisticObjective,
  logisticLogits,
  type LogisticRegressionModel,
  type LogisticRegressionOptions,
} from './logistic-regression.js';
export {
  DEFAULT_L2_GRID,
  linearProbe,
  splitForValidation,
  type LabelledFeatures,
  type LinearProbeOptions,
  type LinearProbeResult,
} from './linear-probe.js';
export type { EvalSet, RetrievalEvalSet, ClassificationEvalSet, EvalSampleInput } from './eval-set.js';
export {
  retrievalSet,
  flickr30kKarpathySet,
  cocoKarpathySet,
  shareGpt4v1kSet,
  urban1kSet,
  docciSet,
  clipBenchmarkRetrievalSet,
  syntheticRetrievalSets,
  LONG_CAPTION,
  type RetrievalSetOptions,
  type BenchmarkAdapterOptions,
} from './retrieval-sets.js';
export {
  DEFAULT_TEMPLATES,
  defaultSampleLabel,
  classificationSet,
  imageFolderSet,
  readClipBenchmarkInfo,
  clipBenchmarkClassificationSet,
  type SampleLabel,
  type ClassificationSetOptions,
  type ClipBenchmarkInfo,
} from './classification-sets.js';
export {
  FEATURE_CACHE_FORMAT,
  FEATURE_CACHE_VERSION,
  FeatureCache,
  type FeatureRole,
  type FeatureDataset,
} from './feature-cache.js';
export {
  runBenchmark,
  runBenchmarks,
  runLinearProbe,
  describeSet,
  type RunLinearProbeOptions,
  type BenchmarkModel,
  type RunBenchmarkOptions,
  type BenchmarkOutcome,
  type BenchmarkRun,
} from './run-benchmarks.js';

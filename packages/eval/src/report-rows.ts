import type { CraScores } from './cra.js';
import type { RetrievalResult } from './evaluate-retrieval.js';
import type { RetrievalMetrics } from './retrieval.js';
import type { ReportResult, ReportSettings } from './report.js';

/** Input of {@link retrievalReportRows}. */
export interface RetrievalReportRowsInput {
  /** The `models[].id` the rows belong to. */
  model: string;
  /** Dataset name. */
  dataset: string;
  /** An {@link evaluateRetrieval} result, or bare metrics. */
  result: RetrievalResult | RetrievalMetrics;
  /**
   * Task name. Default: `retrieval` for all captions or bare metrics, `retrieval:<kind>` for a
   * caption kind (e.g. `retrieval:long`).
   */
  task?: string;
  /** Extra settings; `images` and `texts` (gallery sizes) are always added. */
  settings?: ReportSettings;
}

/**
 * Flat report rows for a retrieval evaluation: `i2t.rK`, `i2t.meanRank`, `i2t.medianRank`, then
 * the same for `t2i`. Recalls have unit `fraction`, ranks unit `rank`; the settings carry the
 * gallery sizes (`images`, `texts`).
 */
export function retrievalReportRows(input: RetrievalReportRowsInput): ReportResult[] {
  const isResult = 'metrics' in input.result;
  const metrics = isResult ? (input.result as RetrievalResult).metrics : (input.result as RetrievalMetrics);
  const kind = isResult ? (input.result as RetrievalResult).captionKind : 'all';
  const task = input.task ?? (kind === 'all' ? 'retrieval' : `retrieval:${kind}`);
  const settings: ReportSettings = { ...input.settings, images: metrics.counts.images, texts: metrics.counts.texts };
  const rows: ReportResult[] = [];
  for (const direction of ['i2t', 't2i'] as const) {
    const values = metrics[direction];
    for (const k of metrics.ks) {
      rows.push({ model: input.model, dataset: input.dataset, task, metric: `${direction}.r${k}`, value: values[`r${k}`], unit: 'fraction', settings });
    }
    rows.push({ model: input.model, dataset: input.dataset, task, metric: `${direction}.meanRank`, value: values.meanRank, unit: 'rank', settings });
    rows.push({ model: input.model, dataset: input.dataset, task, metric: `${direction}.medianRank`, value: values.medianRank, unit: 'rank', settings });
  }
  return rows;
}

/** Input of {@link craReportRows}. */
export interface CraReportRowsInput {
  /** The `models[].id` the rows belong to. */
  model: string;
  /** Dataset name. */
  dataset: string;
  /** A {@link captionRetrievalAccuracy} or {@link evaluateCra} result. */
  result: CraScores & { readonly pairs?: number };
  /** Task name. Default `cra`. */
  task?: string;
  /** Extra settings; `pairs` is added when the result knows it. */
  settings?: ReportSettings;
}

/** Flat report rows for CRA: `cra`, `queryToGallery`, `galleryToQuery`, unit `percent` (as the paper reports them). */
export function craReportRows(input: CraReportRowsInput): ReportResult[] {
  const task = input.task ?? 'cra';
  const settings: ReportSettings | undefined =
    input.result.pairs !== undefined ? { ...input.settings, pairs: input.result.pairs } : input.settings;
  return (['cra', 'queryToGallery', 'galleryToQuery'] as const).map((metric) => ({
    model: input.model,
    dataset: input.dataset,
    task,
    metric,
    value: input.result[metric],
    unit: 'percent' as const,
    ...(settings !== undefined ? { settings } : {}),
  }));
}

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Llm2ClipError, readMetricsJsonl, writeFileAtomic, writeJsonAtomic, type MetricsRecord, type ModelDescription } from '@llm2clip/core';
import type { ExampleQuery } from './example-queries.js';
import { renderReportHtml } from './report-html.js';
import { renderReportMarkdown } from './report-markdown.js';
import { REPORT_SCHEMA, issueField } from './report-schema.js';

/** `format` field of `report.json`. */
export const REPORT_FORMAT = 'llm2clip.report';
/** Current `version` of the report format; readers reject other versions. */
export const REPORT_VERSION = 1;

/**
 * What a result value measures, which decides how it is shown:
 * - `fraction`: a rate in [0, 1] (recall), shown as percent with 1 decimal — the default;
 * - `percent`: already in percent (CRA), shown with 1 decimal;
 * - `rank`: a 1-based rank (lower is better), shown with 1 decimal;
 * - `count`: a number of items, shown as an integer.
 */
export type MetricUnit = 'fraction' | 'percent' | 'rank' | 'count';

/** The units a report may use. */
export const METRIC_UNITS: readonly MetricUnit[] = ['fraction', 'percent', 'rank', 'count'];

/** Flat evaluation settings attached to a result (`ks`, gallery size, batch size, …). */
export type ReportSettings = Readonly<Record<string, string | number | boolean>>;

/** A model evaluated in a report: the id results refer to, and what the model is. */
export interface ReportModel {
  /** Short id used in `results[].model` and as the column title, e.g. `llm2clip-vitb16`. */
  readonly id: string;
  /** Name and fingerprint of the model. */
  readonly description: ModelDescription;
}

/**
 * One number of a report: a flat row, so two reports diff line by line. `(model, dataset, task,
 * metric, settings)` is unique within a report.
 */
export interface ReportResult {
  /** A `models[].id`. */
  readonly model: string;
  /** Dataset name, e.g. `coco-5k`, `synthetic`. */
  readonly dataset: string;
  /** Task name, e.g. `retrieval`, `retrieval:long`, `cra`. */
  readonly task: string;
  /** Metric name, e.g. `i2t.r1`, `t2i.meanRank`, `cra`. */
  readonly metric: string;
  /** The value, finite, in its `unit`. */
  readonly value: number;
  /** Unit of `value`; default `fraction`. */
  readonly unit?: MetricUnit;
  /** Settings the value was measured with. */
  readonly settings?: ReportSettings;
}

/** A dataset a report's results were measured on: its name (as in `results[].dataset`) and fingerprint. */
export interface ReportDataset {
  /** The name results use. */
  readonly name: string;
  /** Hash of the data (keys, captions or labels, image bytes), so two reports can tell whether they saw the same data. */
  readonly fingerprint: string;
  /** Sizes and protocol (`images`, `texts`, `classes`, `protocol`, …). */
  readonly details?: ReportSettings;
}

/** `report.json`: the versioned result of an evaluation run. */
export interface Report {
  /** Always {@link REPORT_FORMAT}. */
  readonly format: typeof REPORT_FORMAT;
  /** Always {@link REPORT_VERSION} for reports this build writes or reads. */
  readonly version: typeof REPORT_VERSION;
  /** ISO time the report was made. */
  readonly createdAt: string;
  /** Name of the run, e.g. `synthetic-e2e`. */
  readonly run: string;
  /** The models the results refer to, in column order. */
  readonly models: readonly ReportModel[];
  /** All numbers, one row each. */
  readonly results: readonly ReportResult[];
  /** The datasets, with fingerprints (optional: reports written before it existed lack it). */
  readonly datasets?: readonly ReportDataset[];
  /** Free-text remarks, rendered as a list. */
  readonly notes?: readonly string[];
}

/** Input of {@link createReport}. */
export interface CreateReportInput {
  /** Name of the run. */
  run: string;
  /** The models, in column order. */
  models: readonly ReportModel[];
  /** The result rows. */
  results: readonly ReportResult[];
  /** The datasets, with fingerprints. */
  datasets?: readonly ReportDataset[];
  /** Free-text remarks. */
  notes?: readonly string[];
  /** Creation time; default: now. */
  createdAt?: string | Date;
}

/**
 * Builds a validated {@link Report} with the current format and version.
 *
 * @throws Llm2ClipError `E_FORMAT` when the content breaks the schema (see {@link validateReport}).
 */
export function createReport(input: CreateReportInput): Report {
  const createdAt = input.createdAt instanceof Date ? input.createdAt.toISOString() : (input.createdAt ?? new Date().toISOString());
  const report: Report = {
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    createdAt,
    run: input.run,
    models: input.models,
    results: input.results,
    ...(input.datasets !== undefined ? { datasets: input.datasets } : {}),
    ...(input.notes !== undefined ? { notes: input.notes } : {}),
  };
  return validateReport(report);
}

/**
 * Checks that `value` is a {@link Report} of this format and version: field types, finite
 * values, known units, results naming listed models, no duplicate result keys and no duplicate
 * model ids. Returns it typed.
 *
 * @param path the file it came from, named in errors.
 * @throws Llm2ClipError `E_FORMAT` naming the path and the offending field.
 */
export function validateReport(value: unknown, path?: string): Report {
  const fail = (field: string, message: string): never => {
    throw new Llm2ClipError('E_FORMAT', message, { path, field });
  };
  if (!isObject(value)) return fail('(root)', 'a report must be a JSON object');
  if (value.format !== REPORT_FORMAT) {
    fail('format', `expected format '${REPORT_FORMAT}', got ${JSON.stringify(value.format)}`);
  }
  if (value.version !== REPORT_VERSION) {
    fail('version', `unsupported report version ${JSON.stringify(value.version)}; this build reads version ${REPORT_VERSION}`);
  }
  const parsed = REPORT_SCHEMA.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(issueField(issue.path), issue.message);
  }
  const modelIds = new Set<string>();
  (value.models as ReportModel[]).forEach((model, index) => {
    if (modelIds.has(model.id)) fail(`models[${index}].id`, `model id '${model.id}' is listed twice`);
    modelIds.add(model.id);
  });
  const keys = new Set<string>();
  (value.results as ReportResult[]).forEach((result, index) => {
    const field = `results[${index}]`;
    if (!modelIds.has(result.model)) fail(`${field}.model`, `model '${result.model}' is not listed in models`);
    const key = JSON.stringify([result.model, result.dataset, result.task, result.metric, settingsKey(result.settings)]);
    if (keys.has(key)) {
      fail(field, `duplicate result for model '${result.model}', dataset '${result.dataset}', task '${result.task}', metric '${result.metric}'`);
    }
    keys.add(key);
  });
  const datasetNames = new Set<string>();
  ((value.datasets ?? []) as ReportDataset[]).forEach((dataset, index) => {
    if (datasetNames.has(dataset.name)) fail(`datasets[${index}].name`, `dataset '${dataset.name}' is listed twice`);
    datasetNames.add(dataset.name);
  });
  return value as unknown as Report;
}

/**
 * A canonical string of `settings` (keys sorted), equal for equal settings; `''` for none.
 */
export function settingsKey(settings: ReportSettings | undefined): string {
  if (settings === undefined) return '';
  const entries = Object.entries(settings).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? '' : JSON.stringify(entries);
}

/** Paths written by {@link writeReport}. */
export interface WrittenReport {
  /** `<dir>/report.json`. */
  readonly json: string;
  /** `<dir>/report.md`. */
  readonly markdown: string;
  /** `<dir>/report.html`. */
  readonly html: string;
}

/** Options of {@link writeReport}: what the HTML report shows beyond `report.json`. */
export interface WriteReportOptions {
  /**
   * Training-curve records. Default: the records of `<dir>/metrics.jsonl` when that file exists
   * (a run directory), else none.
   */
  curves?: readonly MetricsRecord[];
  /** Example queries with thumbnails for the HTML grid. */
  examples?: readonly ExampleQuery[];
}

/**
 * Validates `report` and writes `<dir>/report.json` (pretty JSON), `<dir>/report.md`
 * ({@link renderReportMarkdown}) and the self-contained `<dir>/report.html`
 * (`renderReportHtml`), each atomically; creates `dir` if needed.
 *
 * @throws Llm2ClipError `E_FORMAT` for an invalid report, `E_IO` when a file cannot be written.
 */
export async function writeReport(dir: string, report: Report, options: WriteReportOptions = {}): Promise<WrittenReport> {
  validateReport(report, join(dir, 'report.json'));
  const json = join(dir, 'report.json');
  const markdown = join(dir, 'report.md');
  const html = join(dir, 'report.html');
  const curves = options.curves ?? (await readCurves(join(dir, 'metrics.jsonl')));
  await writeJsonAtomic(json, report);
  await writeFileAtomic(markdown, renderReportMarkdown(report));
  await writeFileAtomic(html, renderReportHtml(report, { curves, examples: options.examples }));
  return { json, markdown, html };
}

async function readCurves(path: string): Promise<MetricsRecord[]> {
  try {
    return readMetricsJsonl(await readFile(path, 'utf8'));
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Llm2ClipError('E_IO', 'cannot read the metrics log', { path, cause });
  }
}

/**
 * Reads and validates a `report.json`. `path` may be the file or the directory holding it.
 *
 * @throws Llm2ClipError `E_NOT_FOUND` when the file is missing, `E_IO` when it cannot be read,
 *   `E_FORMAT` (with the path) when it is not JSON, not a report, or of another version.
 */
export async function readReport(path: string): Promise<Report> {
  let file = path;
  let text: string;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, 'report.json');
    text = await readFile(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Llm2ClipError('E_NOT_FOUND', 'report file does not exist', { path: file, cause });
    throw new Llm2ClipError('E_IO', 'cannot read the report', { path: file, cause });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new Llm2ClipError('E_FORMAT', `report is not valid JSON: ${(cause as Error).message}`, { path: file, cause });
  }
  return validateReport(value, file);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

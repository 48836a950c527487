import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Llm2ClipError, writeFileAtomic, writeJsonAtomic, type ModelDescription } from '@llm2clip/core';
import { renderReportMarkdown } from './report-markdown.js';

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
  if (typeof value.createdAt !== 'string' || Number.isNaN(Date.parse(value.createdAt))) {
    fail('createdAt', 'createdAt must be an ISO date string');
  }
  if (typeof value.run !== 'string' || value.run === '') fail('run', 'run must be a non-empty string');
  if (!Array.isArray(value.models)) return fail('models', 'models must be an array');
  const modelIds = new Set<string>();
  value.models.forEach((model: unknown, index: number) => {
    const field = `models[${index}]`;
    if (!isObject(model)) return fail(field, 'a model must be an object');
    if (typeof model.id !== 'string' || model.id === '') fail(`${field}.id`, 'id must be a non-empty string');
    if (modelIds.has(model.id as string)) fail(`${field}.id`, `model id '${String(model.id)}' is listed twice`);
    modelIds.add(model.id as string);
    const description = model.description;
    if (!isObject(description)) return fail(`${field}.description`, 'description must be an object');
    if (typeof description.name !== 'string') fail(`${field}.description.name`, 'name must be a string');
    if (typeof description.fingerprint !== 'string') fail(`${field}.description.fingerprint`, 'fingerprint must be a string');
    if (description.details !== undefined && !isObject(description.details)) {
      fail(`${field}.description.details`, 'details must be an object when present');
    }
  });
  if (!Array.isArray(value.results)) return fail('results', 'results must be an array');
  const keys = new Set<string>();
  value.results.forEach((result: unknown, index: number) => {
    const field = `results[${index}]`;
    if (!isObject(result)) return fail(field, 'a result must be an object');
    for (const name of ['model', 'dataset', 'task', 'metric'] as const) {
      if (typeof result[name] !== 'string' || result[name] === '') fail(`${field}.${name}`, `${name} must be a non-empty string`);
    }
    if (!modelIds.has(result.model as string)) fail(`${field}.model`, `model '${String(result.model)}' is not listed in models`);
    if (typeof result.value !== 'number' || !Number.isFinite(result.value)) fail(`${field}.value`, 'value must be a finite number');
    if (result.unit !== undefined && !METRIC_UNITS.includes(result.unit as MetricUnit)) {
      fail(`${field}.unit`, `unit must be one of ${METRIC_UNITS.join(', ')}, got ${JSON.stringify(result.unit)}`);
    }
    if (result.settings !== undefined) {
      if (!isObject(result.settings)) return fail(`${field}.settings`, 'settings must be an object when present');
      for (const [name, setting] of Object.entries(result.settings)) {
        if (!['string', 'number', 'boolean'].includes(typeof setting)) {
          fail(`${field}.settings.${name}`, 'a setting must be a string, number or boolean');
        }
      }
    }
    const key = JSON.stringify([result.model, result.dataset, result.task, result.metric, settingsKey(result.settings as ReportSettings | undefined)]);
    if (keys.has(key)) {
      fail(field, `duplicate result for model '${String(result.model)}', dataset '${String(result.dataset)}', task '${String(result.task)}', metric '${String(result.metric)}'`);
    }
    keys.add(key);
  });
  if (value.notes !== undefined) {
    if (!Array.isArray(value.notes) || value.notes.some((note: unknown) => typeof note !== 'string')) {
      fail('notes', 'notes must be an array of strings when present');
    }
  }
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
}

/**
 * Validates `report` and writes `<dir>/report.json` (pretty JSON) and `<dir>/report.md`
 * ({@link renderReportMarkdown}), each atomically; creates `dir` if needed.
 *
 * @throws Llm2ClipError `E_FORMAT` for an invalid report, `E_IO` when a file cannot be written.
 */
export async function writeReport(dir: string, report: Report): Promise<WrittenReport> {
  validateReport(report, join(dir, 'report.json'));
  const json = join(dir, 'report.json');
  const markdown = join(dir, 'report.md');
  await writeJsonAtomic(json, report);
  await writeFileAtomic(markdown, renderReportMarkdown(report));
  return { json, markdown };
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

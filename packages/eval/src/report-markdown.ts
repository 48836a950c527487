import { settingsKey, type MetricUnit, type Report, type ReportResult, type ReportSettings } from './report.js';

/**
 * Formats a result value for reading: fractions as percent (`0.5625` → `56.3`), percents and
 * ranks with 1 decimal, counts as integers.
 */
export function formatMetricValue(value: number, unit: MetricUnit = 'fraction'): string {
  switch (unit) {
    case 'fraction':
      return (value * 100).toFixed(1);
    case 'percent':
      return value.toFixed(1);
    case 'rank':
      return value.toFixed(1);
    case 'count':
      return String(Math.round(value));
  }
}

/**
 * A readable label for a metric name: `i2t.r5` → `i2t R@5`, `t2i.meanRank` → `t2i mean rank`,
 * `cra` → `CRA`, with ` (%)` appended for fraction and percent units.
 */
export function metricLabel(metric: string, unit: MetricUnit = 'fraction'): string {
  const words = metric
    .split('.')
    .map((part) => {
      const recall = /^r(\d+)$/.exec(part);
      if (recall !== null) return `R@${recall[1]}`;
      if (part === 'cra') return 'CRA';
      // camelCase → lower-case words: meanRank → mean rank
      return part.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
    })
    .join(' ');
  return unit === 'fraction' || unit === 'percent' ? `${words} (%)` : words;
}

/**
 * Renders a report as Markdown: a header (run, time, format), a table of the models, then one
 * table per dataset and task with a row per metric and a column per model (in `models` order;
 * values via {@link formatMetricValue}; the best value of a row in bold when the models differ),
 * and the notes. Settings shared by a whole table are printed above it; otherwise each row names
 * its own. Pure: the same report gives the same text.
 */
export function renderReportMarkdown(report: Report): string {
  const lines: string[] = [];
  lines.push(`# Evaluation report: ${inline(report.run)}`, '');
  lines.push(`- Created: ${inline(report.createdAt)}`);
  lines.push(`- Format: \`${report.format}\` version ${report.version}`);
  lines.push(`- Results: ${report.results.length} values for ${report.models.length} model${report.models.length === 1 ? '' : 's'}`, '');

  lines.push('## Models', '');
  lines.push('| Model | Name | Fingerprint |', '|:--|:--|:--|');
  for (const model of report.models) {
    lines.push(`| ${cell(model.id)} | ${cell(model.description.name)} | \`${cell(model.description.fingerprint)}\` |`);
  }
  lines.push('');

  for (const table of groupTables(report.results)) {
    lines.push(`## ${inline(table.dataset)} · ${inline(table.task)}`, '');
    const shared = table.rows.every((row) => settingsKey(row.settings) === settingsKey(table.rows[0].settings));
    if (shared && table.rows[0].settings !== undefined && settingsKey(table.rows[0].settings) !== '') {
      lines.push(`Settings: ${formatSettings(table.rows[0].settings)}`, '');
    }
    const modelIds = report.models.map((model) => model.id).filter((id) => table.rows.some((row) => row.model === id));
    lines.push(`| Metric | ${modelIds.map(cell).join(' | ')} |`);
    lines.push(`|:--|${modelIds.map(() => '--:').join('|')}|`);
    for (const metric of metricRows(table.rows, shared)) {
      const values = modelIds.map((id) => metric.byModel.get(id));
      const best = bestValue(values, metric.unit);
      const cells = values.map((result) => {
        if (result === undefined) return '—';
        const text = formatMetricValue(result.value, metric.unit);
        return modelIds.length > 1 && result.value === best ? `**${text}**` : text;
      });
      const label = metricLabel(metric.metric, metric.unit) + (metric.settings === undefined ? '' : ` [${formatSettings(metric.settings)}]`);
      lines.push(`| ${cell(label)} | ${cells.join(' | ')} |`);
    }
    lines.push('');
  }

  if (report.notes !== undefined && report.notes.length > 0) {
    lines.push('## Notes', '');
    for (const note of report.notes) lines.push(`- ${inline(note)}`);
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

interface Table {
  dataset: string;
  task: string;
  rows: ReportResult[];
}

interface MetricRow {
  metric: string;
  unit: MetricUnit;
  settings?: ReportSettings;
  byModel: Map<string, ReportResult>;
}

/** Groups results by (dataset, task), in order of first appearance. */
function groupTables(results: readonly ReportResult[]): Table[] {
  const tables = new Map<string, Table>();
  for (const result of results) {
    const key = JSON.stringify([result.dataset, result.task]);
    let table = tables.get(key);
    if (table === undefined) {
      table = { dataset: result.dataset, task: result.task, rows: [] };
      tables.set(key, table);
    }
    table.rows.push(result);
  }
  return [...tables.values()];
}

/** Rows of one table: one per metric (and per settings, unless they are shared by the table). */
function metricRows(results: readonly ReportResult[], sharedSettings: boolean): MetricRow[] {
  const rows = new Map<string, MetricRow>();
  for (const result of results) {
    const unit = result.unit ?? 'fraction';
    const key = JSON.stringify([result.metric, unit, sharedSettings ? '' : settingsKey(result.settings)]);
    let row = rows.get(key);
    if (row === undefined) {
      const ownSettings = !sharedSettings && settingsKey(result.settings) !== '' ? result.settings : undefined;
      row = { metric: result.metric, unit, settings: ownSettings, byModel: new Map() };
      rows.set(key, row);
    }
    row.byModel.set(result.model, result);
  }
  return [...rows.values()];
}

/** The best value among `values`: lowest for ranks, highest for rates; none for counts or when all are equal. */
function bestValue(values: readonly (ReportResult | undefined)[], unit: MetricUnit): number | undefined {
  if (unit === 'count') return undefined;
  const present = values.filter((value): value is ReportResult => value !== undefined).map((value) => value.value);
  if (present.length < 2 || present.every((value) => value === present[0])) return undefined;
  return unit === 'rank' ? Math.min(...present) : Math.max(...present);
}

function formatSettings(settings: ReportSettings): string {
  return Object.entries(settings)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${inline(name)}=${inline(String(value))}`)
    .join(', ');
}

/** Text safe on one Markdown line. */
function inline(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ');
}

/** Text safe inside a Markdown table cell. */
function cell(text: string): string {
  return inline(text).replace(/\|/g, '\\|');
}

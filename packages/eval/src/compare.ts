import { join } from 'node:path';
import { writeFileAtomic } from '@llm2clip/core';
import { formatMetricValue, metricLabel } from './report-markdown.js';
import { htmlPage } from './report-html.js';
import { settingsKey, type MetricUnit, type Report, type ReportSettings } from './report.js';
import { barChartSvg, escapeXml } from './svg-charts.js';

/** One metric in a comparison of two reports. */
export interface ComparedMetric {
  /** The model id (the shared id, or `A-id → B-id` when each report has one model). */
  readonly model: string;
  readonly dataset: string;
  readonly task: string;
  readonly metric: string;
  readonly unit: MetricUnit;
  readonly settings?: ReportSettings;
  /** The value in report A (absent when only B has it). */
  readonly a?: number;
  /** The value in report B (absent when only A has it). */
  readonly b?: number;
  /** `b − a` in the metric's unit (fractions stay fractions), when both exist. */
  readonly delta?: number;
  /** Which report is better (higher rates, lower ranks); `same` when equal; absent for counts or a missing side. */
  readonly better?: 'a' | 'b' | 'same';
}

/** The comparison of two reports. */
export interface ReportComparison {
  /** Labels of the two reports (run names by default). */
  readonly labels: { readonly a: string; readonly b: string };
  /**
   * How results were paired: `model` (same model id, dataset, task, metric and settings) or
   * `single-model` (each report has one model; its results pair regardless of the id).
   */
  readonly matchedBy: 'model' | 'single-model';
  /** Every metric of either report, in A's order then B's extras. */
  readonly metrics: readonly ComparedMetric[];
  /** Whether the two reports measured the same data (dataset fingerprints present and equal per name); `undefined` when unknown. */
  readonly sameData: Readonly<Record<string, boolean | undefined>>;
}

/**
 * Pairs the results of two reports and computes the differences. When each report has exactly
 * one model and their ids differ (e.g. two training runs of the same recipe), results pair by
 * (dataset, task, metric, settings); otherwise the model id is part of the key.
 */
export function compareReports(a: Report, b: Report, labels: { a?: string; b?: string } = {}): ReportComparison {
  const single = a.models.length === 1 && b.models.length === 1 && a.models[0].id !== b.models[0].id;
  const modelName = single ? `${a.models[0].id} → ${b.models[0].id}` : undefined;
  const keyOf = (row: Report['results'][number]): string =>
    JSON.stringify([single ? '' : row.model, row.dataset, row.task, row.metric, settingsKey(row.settings)]);
  const entries = new Map<string, { model: string; dataset: string; task: string; metric: string; unit: MetricUnit; settings?: ReportSettings; a?: number; b?: number }>();
  for (const [side, report] of [['a', a], ['b', b]] as const) {
    for (const row of report.results) {
      const key = keyOf(row);
      const entry = entries.get(key) ?? {
        model: modelName ?? row.model,
        dataset: row.dataset,
        task: row.task,
        metric: row.metric,
        unit: row.unit ?? 'fraction',
        ...(row.settings !== undefined ? { settings: row.settings } : {}),
      };
      entry[side] = row.value;
      entries.set(key, entry);
    }
  }
  const metrics: ComparedMetric[] = [...entries.values()].map((entry) => {
    if (entry.a === undefined || entry.b === undefined) return entry;
    const delta = entry.b - entry.a;
    let better: 'a' | 'b' | 'same' | undefined;
    if (entry.unit !== 'count') better = delta === 0 ? 'same' : (entry.unit === 'rank' ? delta < 0 : delta > 0) ? 'b' : 'a';
    return { ...entry, delta, ...(better !== undefined ? { better } : {}) };
  });
  const sameData: Record<string, boolean | undefined> = {};
  const datasetNames = new Set(metrics.map((metric) => metric.dataset));
  for (const name of datasetNames) {
    const fa = a.datasets?.find((d) => d.name === name)?.fingerprint;
    const fb = b.datasets?.find((d) => d.name === name)?.fingerprint;
    sameData[name] = fa === undefined || fb === undefined ? undefined : fa === fb;
  }
  return { labels: { a: labels.a ?? a.run, b: labels.b ?? b.run }, matchedBy: single ? 'single-model' : 'model', metrics, sameData };
}

/** A signed difference for reading: fractions in percentage points (`+2.5 pp`), ranks and percents with one decimal. */
export function formatDelta(delta: number, unit: MetricUnit): string {
  const sign = delta > 0 ? '+' : delta < 0 ? '−' : '±';
  const magnitude = Math.abs(delta);
  switch (unit) {
    case 'fraction':
      return `${sign}${(magnitude * 100).toFixed(1)} pp`;
    case 'percent':
      return `${sign}${magnitude.toFixed(1)} pp`;
    case 'rank':
      return `${sign}${magnitude.toFixed(1)}`;
    case 'count':
      return `${sign}${Math.round(magnitude)}`;
  }
}

interface TextRow {
  cells: string[];
}

function comparisonRows(comparison: ReportComparison): TextRow[] {
  // A metric measured under several settings gets them in its label, so its rows can be told apart.
  const count = new Map<string, number>();
  const nameOf = (metric: ComparedMetric): string => JSON.stringify([metric.model, metric.dataset, metric.task, metric.metric]);
  for (const metric of comparison.metrics) count.set(nameOf(metric), (count.get(nameOf(metric)) ?? 0) + 1);
  const settingsText = (settings: ReportSettings | undefined): string =>
    settings === undefined ? '' : ` [${Object.entries(settings).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => `${k}=${String(v)}`).join(', ')}]`;
  return comparison.metrics.map((metric) => ({
    cells: [
      metric.model,
      metric.dataset,
      metric.task,
      metricLabel(metric.metric, metric.unit) + ((count.get(nameOf(metric)) ?? 0) > 1 ? settingsText(metric.settings) : ''),
      metric.a === undefined ? '—' : formatMetricValue(metric.a, metric.unit),
      metric.b === undefined ? '—' : formatMetricValue(metric.b, metric.unit),
      metric.delta === undefined ? '—' : formatDelta(metric.delta, metric.unit),
      metric.better === 'a' ? comparison.labels.a : metric.better === 'b' ? comparison.labels.b : metric.better === 'same' ? '=' : '',
    ],
  }));
}

function headers(comparison: ReportComparison): string[] {
  return ['model', 'dataset', 'task', 'metric', comparison.labels.a, comparison.labels.b, 'Δ (B − A)', 'better'];
}

/** The comparison as a plain-text table for a terminal (columns padded, numbers right-aligned). */
export function renderComparisonText(comparison: ReportComparison): string {
  const head = headers(comparison);
  const rows = comparisonRows(comparison).map((row) => row.cells);
  const widths = head.map((title, column) => Math.max(title.length, ...rows.map((cells) => cells[column].length)));
  const numeric = (column: number): boolean => column >= 4 && column <= 6;
  const line = (cells: string[]): string => cells.map((cell, column) => (numeric(column) ? cell.padStart(widths[column]) : cell.padEnd(widths[column]))).join('  ').trimEnd();
  const out = [`A = ${comparison.labels.a}, B = ${comparison.labels.b} (paired by ${comparison.matchedBy === 'model' ? 'model id' : 'dataset/task/metric, one model each'})`, line(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const cells of rows) out.push(line(cells));
  for (const [dataset, same] of Object.entries(comparison.sameData)) {
    if (same === false) out.push(`warning: dataset '${dataset}' differs between the runs (fingerprints differ)`);
  }
  return `${out.join('\n')}\n`;
}

function cell(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').replace(/\|/g, '\\|');
}

/** The comparison as Markdown (`compare.md`). */
export function renderComparisonMarkdown(comparison: ReportComparison): string {
  const head = headers(comparison);
  const lines = [
    `# Comparison: ${cell(comparison.labels.a)} → ${cell(comparison.labels.b)}`,
    '',
    `Results paired by ${comparison.matchedBy === 'model' ? 'model id' : 'dataset, task and metric (one model per run)'}. Δ is B − A; fractions in percentage points.`,
    '',
    `| ${head.map(cell).join(' | ')} |`,
    `|${head.map((_, i) => (i >= 4 && i <= 6 ? '--:' : ':--')).join('|')}|`,
  ];
  for (const row of comparisonRows(comparison)) lines.push(`| ${row.cells.map(cell).join(' | ')} |`);
  const differing = Object.entries(comparison.sameData).filter(([, same]) => same === false);
  if (differing.length > 0) {
    lines.push('', '## Warnings', '');
    for (const [dataset] of differing) lines.push(`- Dataset \`${cell(dataset)}\` differs between the runs (fingerprints differ).`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The comparison as a self-contained HTML page (`compare.html`): a bar chart of A and B per
 * (dataset, task) for rate metrics, and the full table with coloured differences.
 */
export function renderComparisonHtml(comparison: ReportComparison): string {
  const { a: labelA, b: labelB } = comparison.labels;
  const parts: string[] = [`<h1>Comparison: ${escapeXml(labelA)} → ${escapeXml(labelB)}</h1>`];
  parts.push(`<p>Results paired by ${comparison.matchedBy === 'model' ? 'model id' : 'dataset, task and metric (one model per run)'}. Δ is B − A.</p>`);
  const groups = new Map<string, ComparedMetric[]>();
  for (const metric of comparison.metrics) {
    const key = JSON.stringify([metric.model, metric.dataset, metric.task]);
    groups.set(key, [...(groups.get(key) ?? []), metric]);
  }
  parts.push('<div class="charts">');
  for (const metrics of groups.values()) {
    const rates = metrics.filter((metric) => metric.unit === 'fraction' || metric.unit === 'percent');
    if (rates.length === 0) continue;
    const scale = (metric: ComparedMetric, value: number | undefined): number | undefined =>
      value === undefined ? undefined : metric.unit === 'fraction' ? value * 100 : value;
    const title = `${metrics[0].model} · ${metrics[0].dataset} · ${metrics[0].task} (%)`;
    parts.push(
      barChartSvg(
        title,
        rates.map((metric) => metricLabel(metric.metric, 'count')),
        [
          { name: `A: ${labelA}`, values: rates.map((metric) => scale(metric, metric.a)) },
          { name: `B: ${labelB}`, values: rates.map((metric) => scale(metric, metric.b)) },
        ],
        { yMax: 100, yLabel: '%' },
      ),
    );
  }
  parts.push('</div>');
  const head = headers(comparison);
  parts.push(`<table><thead><tr>${head.map((title) => `<th>${escapeXml(title)}</th>`).join('')}</tr></thead><tbody>`);
  comparisonRows(comparison).forEach((row, index) => {
    const better = comparison.metrics[index].better;
    const deltaClass = better === 'b' ? ' positive' : better === 'a' ? ' negative' : '';
    parts.push(
      `<tr>${row.cells
        .map((text, column) => `<td class="${column >= 4 && column <= 6 ? 'num' : ''}${column === 6 ? deltaClass : ''}">${escapeXml(text)}</td>`)
        .join('')}</tr>`,
    );
  });
  parts.push('</tbody></table>');
  for (const [dataset, same] of Object.entries(comparison.sameData)) {
    if (same === false) parts.push(`<p class="negative">Dataset ${escapeXml(dataset)} differs between the runs (fingerprints differ).</p>`);
  }
  return htmlPage(`Comparison: ${labelA} → ${labelB}`, parts.join('\n'));
}

/** Paths written by {@link writeComparison}. */
export interface WrittenComparison {
  /** `<dir>/compare.md`. */
  readonly markdown: string;
  /** `<dir>/compare.html`. */
  readonly html: string;
}

/** Writes `<dir>/compare.md` and `<dir>/compare.html` atomically (creating `dir`). */
export async function writeComparison(dir: string, comparison: ReportComparison): Promise<WrittenComparison> {
  const markdown = join(dir, 'compare.md');
  const html = join(dir, 'compare.html');
  await writeFileAtomic(markdown, renderComparisonMarkdown(comparison));
  await writeFileAtomic(html, renderComparisonHtml(comparison));
  return { markdown, html };
}

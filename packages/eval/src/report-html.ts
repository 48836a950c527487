import type { MetricsRecord } from '@llm2clip/core';
import type { ExampleQuery } from './example-queries.js';
import { formatMetricValue, metricLabel } from './report-markdown.js';
import { settingsKey, type MetricUnit, type Report, type ReportResult } from './report.js';
import { barChartSvg, escapeXml, lineChartSvg, type LineSeries } from './svg-charts.js';

/** Extra content of the HTML report that `report.json` does not hold. */
export interface ReportHtmlExtras {
  /** Records of a `metrics.jsonl` (training curves: one chart per phase and metric). */
  curves?: readonly MetricsRecord[];
  /** Example queries with their top retrieved images (thumbnails as `data:` URIs). */
  examples?: readonly ExampleQuery[];
  /** Training-curve metrics per phase at most (the first ones in log order). Default 6. */
  maxCurvesPerPhase?: number;
}

/** The CSS of the report pages (inline; no external resource). @internal */
export const REPORT_CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{padding:.25rem .6rem;border-bottom:1px solid #e4e4e4;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.best{font-weight:700}code{font-size:.85em}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.chart{background:#fff;border:1px solid #eee}
.chart .grid{stroke:#eee}.chart .tick,.chart .legend,.chart .axis-label{font-size:10px;fill:#444}.chart .chart-title{font-size:12px;font-weight:600}
.chart .empty{font-size:12px;fill:#888}
.examples{display:grid;grid-template-columns:1fr;gap:.8rem}.example{border:1px solid #eee;padding:.5rem}
.example .query{margin:0 0 .4rem}.hits{display:flex;gap:.5rem;flex-wrap:wrap}
figure.hit{margin:0;text-align:center;font-size:.75rem}figure.hit img{display:block;border:3px solid #ccc;image-rendering:pixelated}
figure.hit.correct img{border-color:#009E73}.positive{color:#007a5a}.negative{color:#b3261e}
`;

/**
 * Renders a self-contained `report.html`: the models and datasets with fingerprints, one table
 * and one bar chart per (dataset, task) (recall-like metrics in percent, one bar per model),
 * training curves from `metrics.jsonl` records, and a grid of example queries with their top
 * retrieved images as inline thumbnails (correct ones framed green). No script, no external
 * URL: every chart is inline SVG, every image a `data:` URI. Pure: the same input gives the same
 * text.
 */
export function renderReportHtml(report: Report, extras: ReportHtmlExtras = {}): string {
  const parts: string[] = [];
  parts.push(`<h1>Evaluation report: ${escapeXml(report.run)}</h1>`);
  parts.push(`<p>Created ${escapeXml(report.createdAt)} · format <code>${escapeXml(report.format)}</code> version ${report.version} · ${report.results.length} values</p>`);
  parts.push('<h2>Models</h2><table><thead><tr><th>Model</th><th>Name</th><th>Fingerprint</th></tr></thead><tbody>');
  for (const model of report.models) {
    parts.push(`<tr><td>${escapeXml(model.id)}</td><td>${escapeXml(model.description.name)}</td><td><code>${escapeXml(model.description.fingerprint)}</code></td></tr>`);
  }
  parts.push('</tbody></table>');
  if (report.datasets !== undefined && report.datasets.length > 0) {
    parts.push('<h2>Datasets</h2><table><thead><tr><th>Dataset</th><th>Fingerprint</th><th>Details</th></tr></thead><tbody>');
    for (const dataset of report.datasets) {
      const details = Object.entries(dataset.details ?? {}).map(([key, value]) => `${key}=${value}`).join(', ');
      parts.push(`<tr><td>${escapeXml(dataset.name)}</td><td><code>${escapeXml(dataset.fingerprint)}</code></td><td>${escapeXml(details)}</td></tr>`);
    }
    parts.push('</tbody></table>');
  }

  parts.push('<h2>Results</h2>');
  for (const table of groupByDatasetTask(report.results)) {
    const modelIds = report.models.map((model) => model.id).filter((id) => table.rows.some((row) => row.model === id));
    parts.push(`<section class="result" data-dataset="${escapeXml(table.dataset)}" data-task="${escapeXml(table.task)}"><h3>${escapeXml(table.dataset)} · ${escapeXml(table.task)}</h3>`);
    parts.push(resultTable(table.rows, modelIds));
    const rates = metricNames(table.rows).filter((metric) => metric.unit === 'fraction' || metric.unit === 'percent');
    if (rates.length > 0) {
      const series = modelIds.map((id) => ({
        name: id,
        values: rates.map((metric) => {
          const row = table.rows.find((r) => r.model === id && r.metric === metric.metric && settingsKey(r.settings) === metric.settings);
          if (row === undefined) return undefined;
          return metric.unit === 'fraction' ? row.value * 100 : row.value;
        }),
      }));
      const groups = rates.map((metric) => metricLabel(metric.metric, 'count'));
      parts.push(`<div class="charts">${barChartSvg(`${table.dataset} · ${table.task} (%)`, groups, series, { yMax: 100, yLabel: '%' })}</div>`);
    }
    parts.push('</section>');
  }

  const curves = trainingCurves(extras.curves ?? [], extras.maxCurvesPerPhase ?? 6);
  if (curves.length > 0) {
    parts.push('<h2>Training curves</h2><div class="charts">');
    for (const curve of curves) parts.push(lineChartSvg(`${curve.phase} · ${curve.metric}`, [curve.series], { x: 'step', y: curve.metric }));
    parts.push('</div>');
  }

  if (extras.examples !== undefined && extras.examples.length > 0) {
    parts.push('<h2>Example queries</h2><div class="examples">');
    for (const example of extras.examples) {
      parts.push(`<div class="example" data-model="${escapeXml(example.model)}" data-dataset="${escapeXml(example.dataset)}">`);
      parts.push(`<p class="query"><strong>${escapeXml(example.model)}</strong> · ${escapeXml(example.dataset)}: “${escapeXml(example.query)}”</p><div class="hits">`);
      example.hits.forEach((hit, rank) => {
        const image = hit.thumbnail !== undefined ? `<img src="${escapeXml(hit.thumbnail)}" alt="${escapeXml(hit.key)}">` : '';
        parts.push(
          `<figure class="hit${hit.correct ? ' correct' : ''}">${image}<figcaption>#${rank + 1} ${escapeXml(hit.key)}<br>${hit.score.toFixed(3)}${hit.correct ? ' ✓' : ''}</figcaption></figure>`,
        );
      });
      parts.push('</div></div>');
    }
    parts.push('</div>');
  }

  if (report.notes !== undefined && report.notes.length > 0) {
    parts.push('<h2>Notes</h2><ul>');
    for (const note of report.notes) parts.push(`<li>${escapeXml(note)}</li>`);
    parts.push('</ul>');
  }
  return htmlPage(`Evaluation report: ${report.run}`, parts.join('\n'));
}

/** A complete HTML document with the report CSS. @internal */
export function htmlPage(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>${escapeXml(title)}</title>\n<style>${REPORT_CSS}</style>\n</head>\n<body>\n${body}\n</body>\n</html>\n`;
}

interface MetricName {
  metric: string;
  unit: MetricUnit;
  settings: string;
}

function metricNames(rows: readonly ReportResult[]): MetricName[] {
  const seen = new Map<string, MetricName>();
  for (const row of rows) {
    const name = { metric: row.metric, unit: row.unit ?? 'fraction', settings: settingsKey(row.settings) };
    const key = JSON.stringify([name.metric, name.unit, name.settings]);
    if (!seen.has(key)) seen.set(key, name);
  }
  return [...seen.values()];
}

function resultTable(rows: readonly ReportResult[], modelIds: readonly string[]): string {
  const names = metricNames(rows);
  const sharedSettings = new Set(names.map((name) => name.settings)).size <= 1;
  const out = [`<table><thead><tr><th>Metric</th>${modelIds.map((id) => `<th>${escapeXml(id)}</th>`).join('')}</tr></thead><tbody>`];
  for (const name of names) {
    const values = modelIds.map((id) => rows.find((row) => row.model === id && row.metric === name.metric && settingsKey(row.settings) === name.settings));
    const present = values.filter((row): row is ReportResult => row !== undefined).map((row) => row.value);
    const distinct = present.length > 1 && present.some((value) => value !== present[0]);
    const best = !distinct || name.unit === 'count' ? undefined : name.unit === 'rank' ? Math.min(...present) : Math.max(...present);
    const settings = !sharedSettings && name.settings !== '' ? ` [${(JSON.parse(name.settings) as [string, unknown][]).map(([k, v]) => `${k}=${String(v)}`).join(', ')}]` : '';
    out.push(
      `<tr><td>${escapeXml(metricLabel(name.metric, name.unit) + settings)}</td>${values
        .map((row) => (row === undefined ? '<td class="num">—</td>' : `<td class="num${row.value === best ? ' best' : ''}">${formatMetricValue(row.value, name.unit)}</td>`))
        .join('')}</tr>`,
    );
  }
  out.push('</tbody></table>');
  const settings = sharedSettings && rows[0]?.settings !== undefined ? Object.entries(rows[0].settings).map(([k, v]) => `${k}=${String(v)}`).join(', ') : '';
  return (settings !== '' ? `<p>Settings: ${escapeXml(settings)}</p>` : '') + out.join('');
}

function groupByDatasetTask(results: readonly ReportResult[]): { dataset: string; task: string; rows: ReportResult[] }[] {
  const tables = new Map<string, { dataset: string; task: string; rows: ReportResult[] }>();
  for (const result of results) {
    const key = JSON.stringify([result.dataset, result.task]);
    const table = tables.get(key) ?? { dataset: result.dataset, task: result.task, rows: [] };
    table.rows.push(result);
    tables.set(key, table);
  }
  return [...tables.values()];
}

/** Curves of numeric metrics per phase, in order of first appearance. */
function trainingCurves(records: readonly MetricsRecord[], maxPerPhase: number): { phase: string; metric: string; series: LineSeries }[] {
  const curves = new Map<string, { phase: string; metric: string; points: [number, number][] }>();
  const perPhase = new Map<string, number>();
  for (const record of records) {
    if (typeof record.step !== 'number' || typeof record.phase !== 'string') continue;
    for (const [metric, value] of Object.entries(record)) {
      if (metric === 'step' || metric === 'phase' || metric === 'time' || typeof value !== 'number' || !Number.isFinite(value)) continue;
      const key = JSON.stringify([record.phase, metric]);
      let curve = curves.get(key);
      if (curve === undefined) {
        const count = perPhase.get(record.phase) ?? 0;
        if (count >= maxPerPhase) continue;
        perPhase.set(record.phase, count + 1);
        curve = { phase: record.phase, metric, points: [] };
        curves.set(key, curve);
      }
      curve.points.push([record.step, value]);
    }
  }
  return [...curves.values()].map((curve) => ({ phase: curve.phase, metric: curve.metric, series: { name: `${curve.phase} ${curve.metric}`, points: curve.points } }));
}

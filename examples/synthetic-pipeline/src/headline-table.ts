import type { Report } from '@llm2clip/eval';

/** The numbers the demo is about, per model. */
export interface HeadlineRow {
  model: string;
  label: string;
  cra?: number;
  shortI2tR1?: number;
  shortT2iR1?: number;
  longI2tR1?: number;
  longT2iR1?: number;
}

function value(report: Report, model: string, task: string, metric: string): number | undefined {
  return report.results.find((r) => r.model === model && r.task === task && r.metric === metric)?.value;
}

/** Extracts {@link HeadlineRow}s from a pipeline report. */
export function headlineRows(report: Report, labels: Record<string, string>): HeadlineRow[] {
  return report.models.map(({ id }) => ({
    model: id,
    label: labels[id] ?? id,
    cra: value(report, id, 'cra', 'cra'),
    shortI2tR1: value(report, id, 'retrieval:short', 'i2t.r1'),
    shortT2iR1: value(report, id, 'retrieval:short', 't2i.r1'),
    longI2tR1: value(report, id, 'retrieval:long', 'i2t.r1'),
    longT2iR1: value(report, id, 'retrieval:long', 't2i.r1'),
  }));
}

const pct = (fraction: number | undefined) => (fraction === undefined ? '—' : (fraction * 100).toFixed(1));
const craText = (percent: number | undefined) => (percent === undefined ? '—' : percent.toFixed(1));

/** Renders the headline rows as a Markdown table (R@1 in percent, CRA in percent). */
export function renderHeadlineTable(rows: readonly HeadlineRow[]): string {
  const lines = [
    '| model | CRA | short I2T R@1 | short T2I R@1 | long I2T R@1 | long T2I R@1 |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    lines.push(`| ${row.label} | ${craText(row.cra)} | ${pct(row.shortI2tR1)} | ${pct(row.shortT2iR1)} | ${pct(row.longI2tR1)} | ${pct(row.longT2iR1)} |`);
  }
  return lines.join('\n');
}

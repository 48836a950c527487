import { describe, expect, it } from 'vitest';
import { compareReports, createReport, formatDelta, renderComparisonMarkdown, renderComparisonText, type ReportResult } from '../src/index.js';

function report(run: string, models: string[], results: ReportResult[], dataFingerprint = 'd1') {
  return createReport({
    run,
    createdAt: '2026-01-01T00:00:00.000Z',
    models: models.map((id) => ({ id, description: { name: id, fingerprint: id } })),
    datasets: [{ name: 'coco', fingerprint: dataFingerprint }],
    results,
  });
}

const row = (model: string, metric: string, value: number, unit: ReportResult['unit'] = 'fraction'): ReportResult => ({ model, dataset: 'coco', task: 'retrieval', metric, value, unit });

describe('compareReports', () => {
  it('pairs by model id when models are shared, keeps one-sided metrics, and judges ranks lower-is-better', () => {
    const a = report('a', ['x', 'y'], [row('x', 't2i.r1', 0.4), row('x', 't2i.meanRank', 5, 'rank'), row('y', 't2i.r1', 0.3)]);
    const b = report('b', ['x', 'y'], [row('x', 't2i.r1', 0.35), row('x', 't2i.meanRank', 4, 'rank'), row('x', 'images', 5000, 'count')]);
    const comparison = compareReports(a, b);
    expect(comparison.matchedBy).toBe('model');
    const byKey = Object.fromEntries(comparison.metrics.map((m) => [`${m.model}/${m.metric}`, m]));
    expect(byKey['x/t2i.r1']).toMatchObject({ a: 0.4, b: 0.35, better: 'a' });
    expect(byKey['x/t2i.r1'].delta).toBeCloseTo(-0.05, 12);
    expect(byKey['x/t2i.meanRank']).toMatchObject({ a: 5, b: 4, delta: -1, better: 'b' });
    expect(byKey['y/t2i.r1']).toEqual({ model: 'y', dataset: 'coco', task: 'retrieval', metric: 't2i.r1', unit: 'fraction', a: 0.3 });
    expect(byKey['x/images'].better).toBeUndefined();
    expect(comparison.sameData).toEqual({ coco: true });
    expect(renderComparisonText(comparison)).toMatch(/y\s+coco\s+retrieval\s+t2i R@1 \(%\)\s+30\.0\s+—\s+—/);
  });

  it('warns when the two runs saw different data', () => {
    const comparison = compareReports(report('a', ['x'], [row('x', 't2i.r1', 0.4)]), report('b', ['x'], [row('x', 't2i.r1', 0.5)], 'd2'));
    expect(comparison.sameData).toEqual({ coco: false });
    expect(renderComparisonText(comparison)).toContain("warning: dataset 'coco' differs between the runs");
    expect(renderComparisonMarkdown(comparison)).toContain('## Warnings');
  });

  it('formats differences per unit', () => {
    expect(formatDelta(0.025, 'fraction')).toBe('+2.5 pp');
    expect(formatDelta(-1.25, 'percent')).toBe('−1.3 pp');
    expect(formatDelta(0, 'rank')).toBe('±0.0');
    expect(formatDelta(-3, 'count')).toBe('−3');
  });
});

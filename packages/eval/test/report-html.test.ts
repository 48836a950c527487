import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { barChartSvg, lineChartSvg, niceTicks, readReport, renderReportHtml, validateReport } from '../src/index.js';
import { writeFixtureRun } from './html-fixture.js';

const dir = await mkdtemp(join(tmpdir(), 'eval-html-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('report.html', () => {
  it('is written beside report.json and report.md, self-contained, with charts, curves and thumbnails', async () => {
    const { report, written } = await writeFixtureRun(join(dir, 'run'));
    expect(written.html).toBe(join(dir, 'run', 'report.html'));
    const html = await readFile(written.html, 'utf8');
    expect(await readReport(written.json)).toEqual(report);
    // no external resource of any kind
    expect(html).not.toMatch(/(?:src|href)\s*=\s*"(?!data:)/);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toContain('<script');
    // one bar chart per dataset/task, one line chart per phase and metric (stage2 loss + lr, stage1 loss)
    expect(html.match(/data-chart="bar"/g)?.length).toBe(2);
    expect(html.match(/data-chart="line"/g)?.length).toBe(3);
    expect(html).toContain('data-series="stage2 loss" data-points="20"');
    // 2 sets × 2 example queries × 3 thumbnails
    expect(html.match(/<img src="data:image\/png;base64,/g)?.length).toBe(12);
    // dataset fingerprints and escaped notes
    expect(html).toContain(`<code>${report.datasets?.[0].fingerprint}</code>`);
    expect(html).toContain('Toy embedders &lt;b&gt;not&lt;/b&gt; a model.');
  });

  it('marks the best value of a row and renders the same text for the same input', () => {
    const report = validateReport({
      format: 'llm2clip.report',
      version: 1,
      createdAt: '2026-01-01T00:00:00.000Z',
      run: 'r',
      models: [{ id: 'a', description: { name: 'A', fingerprint: 'fa' } }, { id: 'b', description: { name: 'B', fingerprint: 'fb' } }],
      results: [
        { model: 'a', dataset: 'd', task: 't', metric: 't2i.r1', value: 0.25, unit: 'fraction' },
        { model: 'b', dataset: 'd', task: 't', metric: 't2i.r1', value: 0.5, unit: 'fraction' },
        { model: 'a', dataset: 'd', task: 't', metric: 't2i.meanRank', value: 2, unit: 'rank' },
        { model: 'b', dataset: 'd', task: 't', metric: 't2i.meanRank', value: 3, unit: 'rank' },
      ],
    });
    const html = renderReportHtml(report);
    expect(html).toContain('<td class="num">25.0</td><td class="num best">50.0</td>');
    expect(html).toContain('<td class="num best">2.0</td><td class="num">3.0</td>');
    // bars show fractions in percent; ranks get no bar
    expect(html).toContain('data-series="a" data-group="t2i R@1" data-value="25"');
    expect(html).not.toContain('data-group="t2i mean rank"');
    expect(renderReportHtml(report)).toBe(html);
  });

  it('draws bars at their value and lines through their points', () => {
    const bars = barChartSvg('t', ['g1', 'g2'], [{ name: 's', values: [50, undefined] }], { yMax: 100 });
    expect(bars.match(/<rect class="bar"/g)?.length).toBe(1);
    // plot height 260 − 28 − 44 = 188: half of it for 50 of 100
    expect(bars).toMatch(/data-value="50" x="[\d.]+" y="122\.0" width="[\d.]+" height="94\.0"/);
    const line = lineChartSvg('t', [{ name: 'l', points: [[0, 0], [1, 1], [2, Number.NaN]] }]);
    expect(line).toContain('data-points="2"');
    expect(line).toContain('points="52.0,216.0 464.0,28.0"');
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 100, 5)).toEqual([0, 20, 40, 60, 80, 100]);
  });
});

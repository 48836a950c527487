import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLlm2ClipError } from '@llm2clip/core';
import {
  craReportRows,
  createReport,
  formatMetricValue,
  metricLabel,
  readReport,
  renderReportMarkdown,
  reportModel,
  retrievalMetrics,
  retrievalReportRows,
  validateReport,
  writeReport,
  type Report,
} from '../src/index.js';
import { BagOfWordsTextEmbedder, PixelLabelImageEmbedder, rows } from './toy-embedders.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-eval-report-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sampleReport(): Report {
  const images = rows([[1, 0], [0, 1], [-1, 0]]);
  const texts = rows([[1, 0], [0.6, 0.8], [0.8, 0.6], [0, -1], [-0.96, 0.28]]);
  // t2i ranks [1, 3, 1, 2, 2], i2t ranks [1, 3, 2] (see retrieval.test.ts)
  const weak = retrievalMetrics(images, texts, [0, 2, 0, 2, 1], { ks: [1, 5] });
  const perfect = retrievalMetrics(images, texts, [0, 1, 0, 0, 2], { ks: [1, 5] });
  return createReport({
    run: 'unit-test',
    createdAt: '2025-01-02T03:04:05.000Z',
    models: [
      reportModel('baseline', { name: 'clip-tiny', fingerprint: 'aaaa' }),
      reportModel('llm2clip', new BagOfWordsTextEmbedder(), new PixelLabelImageEmbedder()),
    ],
    results: [
      ...retrievalReportRows({ model: 'baseline', dataset: 'toy', result: weak }),
      ...retrievalReportRows({ model: 'llm2clip', dataset: 'toy', result: perfect }),
      ...craReportRows({ model: 'llm2clip', dataset: 'toy', result: { queryToGallery: 80, galleryToQuery: 70, cra: 75, pairs: 10 } }),
    ],
    notes: ['Synthetic data; numbers are not comparable to the paper.'],
  });
}

describe('report rows', () => {
  it('flattens retrieval metrics into one row per metric with units and gallery sizes', () => {
    const report = sampleReport();
    const baseline = report.results.filter((row) => row.model === 'baseline');
    expect(baseline.map((row) => [row.metric, row.value, row.unit])).toEqual([
      ['i2t.r1', 1 / 3, 'fraction'],
      ['i2t.r5', 1, 'fraction'],
      ['i2t.meanRank', 2, 'rank'],
      ['i2t.medianRank', 2, 'rank'],
      ['t2i.r1', 0.4, 'fraction'],
      ['t2i.r5', 1, 'fraction'],
      ['t2i.meanRank', 1.8, 'rank'],
      ['t2i.medianRank', 2, 'rank'],
    ]);
    expect(baseline.every((row) => row.task === 'retrieval' && row.dataset === 'toy')).toBe(true);
    expect(baseline[0].settings).toEqual({ images: 3, texts: 5 });
  });

  it('combines several parts into one model description', () => {
    const model = sampleReport().models[1];
    expect(model.description.name).toBe('bag-of-words + pixel-label');
    expect(model.description.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect((model.description.details?.parts as unknown[]).length).toBe(2);
  });
});

describe('report files', () => {
  it('round-trips through report.json and reads a directory or a file path', async () => {
    const report = sampleReport();
    const written = await writeReport(join(dir, 'run1'), report);
    expect(written.json).toBe(join(dir, 'run1', 'report.json'));
    expect(await readReport(written.json)).toEqual(report);
    expect(await readReport(join(dir, 'run1'))).toEqual(report);
    const json = JSON.parse(await readFile(written.json, 'utf8'));
    expect(json.format).toBe('llm2clip.report');
    expect(json.version).toBe(1);
    expect(await readFile(written.markdown, 'utf8')).toBe(renderReportMarkdown(report));
  });

  it('rejects another format or version with E_FORMAT naming the path', async () => {
    const path = join(dir, 'bad', 'report.json');
    await mkdir(join(dir, 'bad'), { recursive: true });
    for (const [patch, expected] of [
      [{ format: 'llm2clip.embeddings' }, /expected format 'llm2clip.report'/],
      [{ version: 2 }, /unsupported report version 2/],
    ] as const) {
      await writeFile(path, JSON.stringify({ ...sampleReport(), ...patch }));
      const error = await readReport(path).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isLlm2ClipError(error, 'E_FORMAT')).toBe(true);
      expect((error as Error).message).toMatch(expected);
      expect((error as Error).message).toContain(path);
    }
    await writeFile(path, '{"format": "llm2clip.report", ');
    await expect(readReport(path)).rejects.toMatchObject({ code: 'E_FORMAT', path });
    await expect(readReport(join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('validates the content: known models, finite values, units, no duplicates', () => {
    const report = sampleReport();
    const invalid = (patch: Partial<Record<keyof Report, unknown>>): string => {
      try {
        validateReport({ ...report, ...patch });
      } catch (error) {
        return isLlm2ClipError(error, 'E_FORMAT') ? error.message : `unexpected ${String(error)}`;
      }
      return 'valid';
    };
    const row = report.results[0];
    expect(invalid({})).toBe('valid');
    expect(invalid({ results: [{ ...row, model: 'nobody' }] })).toMatch(/model 'nobody' is not listed.*results\[0\]\.model/);
    expect(invalid({ results: [{ ...row, value: Number.NaN }] })).toMatch(/finite/);
    expect(invalid({ results: [{ ...row, unit: 'furlongs' }] })).toMatch(/unit must be one of/);
    expect(invalid({ results: [row, { ...row, value: 0.9 }] })).toMatch(/duplicate result.*results\[1\]/);
    expect(invalid({ results: [row, { ...row, settings: { images: 99, texts: 5 } }] })).toBe('valid');
    expect(invalid({ models: [...report.models, report.models[0]] })).toMatch(/listed twice/);
    expect(invalid({ createdAt: 'yesterday' })).toMatch(/createdAt/);
    expect(invalid({ notes: [3] })).toMatch(/notes/);
  });
});

describe('markdown report', () => {
  const markdown = renderReportMarkdown(sampleReport());

  it('has the run, creation time and a model table', () => {
    expect(markdown).toMatch(/^# Evaluation report: unit-test\n/);
    expect(markdown).toContain('- Created: 2025-01-02T03:04:05.000Z');
    expect(markdown).toContain('| baseline | clip-tiny | `aaaa` |');
    expect(markdown).toMatch(/\| llm2clip \| bag-of-words \+ pixel-label \| `[0-9a-f]{16}` \|/);
  });

  it('renders one table per dataset and task, models as columns, percent with 1 decimal, best in bold unless all equal', () => {
    const retrieval = markdown.slice(markdown.indexOf('## toy · retrieval'), markdown.indexOf('## toy · cra'));
    expect(retrieval).toContain('Settings: images=3, texts=5');
    expect(retrieval).toContain('| Metric | baseline | llm2clip |');
    // perfect model: i2t ranks [1, 1, 1], t2i ranks [1, 1, 1, 1, 1] (the texts match their nearest image)
    expect(retrieval).toContain('| i2t R@1 (%) | 33.3 | **100.0** |');
    expect(retrieval).toContain('| i2t R@5 (%) | 100.0 | 100.0 |');
    expect(retrieval).toContain('| t2i R@1 (%) | 40.0 | **100.0** |');
    expect(retrieval).toContain('| t2i mean rank | 1.8 | **1.0** |');
    expect(retrieval).toContain('| i2t median rank | 2.0 | **1.0** |');
  });

  it('shows only the models that have results in a table, and CRA in percent', () => {
    const cra = markdown.slice(markdown.indexOf('## toy · cra'), markdown.indexOf('## Notes'));
    expect(cra).toContain('Settings: pairs=10');
    expect(cra).toContain('| Metric | llm2clip |');
    expect(cra).toContain('| CRA (%) | 75.0 |');
    expect(cra).toContain('| query to gallery (%) | 80.0 |');
    expect(cra).not.toContain('baseline');
  });

  it('lists the notes and ends with one newline', () => {
    expect(markdown).toMatch(/## Notes\n\n- Synthetic data; numbers are not comparable to the paper\.\n$/);
  });

  it('labels rows with their settings when a table mixes settings, and escapes pipes', () => {
    const report = createReport({
      run: 'mixed',
      createdAt: '2025-01-01T00:00:00.000Z',
      models: [reportModel('a|b', { name: 'x', fingerprint: 'f' })],
      results: [
        { model: 'a|b', dataset: 'd', task: 't', metric: 'acc', value: 0.5, settings: { k: 1 } },
        { model: 'a|b', dataset: 'd', task: 't', metric: 'acc', value: 0.25, settings: { k: 2 } },
        { model: 'a|b', dataset: 'd', task: 't', metric: 'seen', value: 12, unit: 'count' },
      ],
    });
    const text = renderReportMarkdown(report);
    expect(text).toContain('| Metric | a\\|b |');
    expect(text).toContain('| acc (%) [k=1] | 50.0 |');
    expect(text).toContain('| acc (%) [k=2] | 25.0 |');
    expect(text).toContain('| seen | 12 |');
    expect(text).not.toContain('Settings:');
  });

  it('formats values and labels by unit', () => {
    expect(formatMetricValue(0.56249, 'fraction')).toBe('56.2');
    expect(formatMetricValue(85.26, 'percent')).toBe('85.3');
    expect(formatMetricValue(2, 'rank')).toBe('2.0');
    expect(formatMetricValue(2.25, 'rank')).toBe('2.3');
    expect(formatMetricValue(1e3, 'count')).toBe('1000');
    expect(metricLabel('t2i.r10')).toBe('t2i R@10 (%)');
    expect(metricLabel('i2t.medianRank', 'rank')).toBe('i2t median rank');
  });
});

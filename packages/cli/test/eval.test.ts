import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { createReport, writeReport, type ReportResult } from '@llm2clip/eval';
import { registerEvalCommand } from '../src/commands/eval.js';

const dir = await mkdtemp(join(tmpdir(), 'cli-eval-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function writeRun(name: string, values: { r1: number; meanRank: number }, model = 'llm2clip'): Promise<string> {
  const settings = { images: 100, texts: 500 };
  const results: ReportResult[] = [
    { model, dataset: 'flickr', task: 'retrieval', metric: 't2i.r1', value: values.r1, unit: 'fraction', settings },
    { model, dataset: 'flickr', task: 'retrieval', metric: 't2i.meanRank', value: values.meanRank, unit: 'rank', settings },
  ];
  const report = createReport({
    run: name,
    createdAt: '2026-01-01T00:00:00.000Z',
    models: [{ id: model, description: { name: model, fingerprint: `fp-${name}` } }],
    datasets: [{ name: 'flickr', fingerprint: 'data-1' }],
    results,
  });
  await writeReport(join(dir, name), report);
  return join(dir, name);
}

async function run(args: string[]): Promise<string> {
  let out = '';
  const program = new Command('llm2clip').exitOverride();
  registerEvalCommand(program, { stdout: { write: (text: string) => (out += text) } });
  await program.parseAsync(['node', 'llm2clip', ...args]);
  return out;
}

describe('llm2clip eval compare', () => {
  it('prints the differences of two runs and writes compare.md and compare.html', async () => {
    const a = await writeRun('run-a', { r1: 0.5, meanRank: 3 });
    const b = await writeRun('run-b', { r1: 0.625, meanRank: 2.5 }, 'llm2clip-v2');
    const out = join(dir, 'cmp');
    const printed = await run(['eval', 'compare', a, b, '--out', out]);
    // one model per run with different ids: paired by dataset/task/metric
    expect(printed).toContain('paired by dataset/task/metric, one model each');
    expect(printed).toMatch(/llm2clip → llm2clip-v2\s+flickr\s+retrieval\s+t2i R@1 \(%\)\s+50\.0\s+62\.5\s+\+12\.5 pp\s+run-b/);
    expect(printed).toMatch(/t2i mean rank\s+3\.0\s+2\.5\s+−0\.5\s+run-b/);
    const markdown = await readFile(join(out, 'compare.md'), 'utf8');
    expect(markdown).toContain('| llm2clip → llm2clip-v2 | flickr | retrieval | t2i R@1 (%) | 50.0 | 62.5 | +12.5 pp | run-b |');
    const html = await readFile(join(out, 'compare.html'), 'utf8');
    expect(html).toContain('data-series="A: run-a" data-group="t2i R@1" data-value="50"');
    expect(html).toContain('data-series="B: run-b" data-group="t2i R@1" data-value="62.5"');
  });

  it('names a run by its directory when both reports carry the same run name, and fails on a missing report', async () => {
    const a = await writeRun('same', { r1: 0.5, meanRank: 3 });
    const printed = await run(['eval', 'compare', a, a, '--out', join(dir, 'self')]);
    expect(printed).toContain('A = same, B = same');
    expect(printed).toMatch(/t2i R@1 \(%\)\s+50\.0\s+50\.0\s+±0\.0 pp\s+=/);
    await expect(run(['eval', 'compare', a, join(dir, 'missing'), '--out', dir])).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('re-renders report.md and report.html of a run', async () => {
    const runDir = await writeRun('render-me', { r1: 0.5, meanRank: 3 });
    await rm(join(runDir, 'report.html'));
    const printed = await run(['eval', 'render', runDir]);
    expect(printed).toContain(join(runDir, 'report.html'));
    expect(existsSync(join(runDir, 'report.html'))).toBe(true);
  });
});

// A real benchmark run of the toy embedders written as a report directory with metrics.jsonl,
// example queries and thumbnails: the input of the HTML report tests (node and browser).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sample } from '@llm2clip/core';
import { createReport, retrievalSet, runBenchmarks, writeReport, type BenchmarkRun, type Report, type WrittenReport } from '../src/index.js';
import { BagOfWordsTextEmbedder, PixelLabelImageEmbedder, toySample } from './toy-embedders.js';

export const FIXTURE_SAMPLES: Sample[] = [
  toySample('s0', 'red', 'circle', 'a red circle', 'a small red circle on a big canvas'),
  toySample('s1', 'green', 'square', 'a green square', 'a big green square'),
  toySample('s2', 'blue', 'triangle', 'a blue triangle', 'a small blue triangle'),
  toySample('s3', 'red', 'square', 'a red square', 'a small red square'),
  toySample('s4', 'yellow', 'circle', 'a yellow circle', 'a big yellow circle'),
];

/** Writes `<dir>/metrics.jsonl` (a short fake training log) and the report of two toy models. */
export async function writeFixtureRun(dir: string, options: { colorBlindBaseline?: boolean; run?: string } = {}): Promise<{ report: Report; written: WrittenReport; runs: BenchmarkRun[] }> {
  await mkdir(dir, { recursive: true });
  const lines = [];
  for (let step = 0; step < 20; step++) {
    lines.push(JSON.stringify({ phase: 'stage2', step, loss: 3 * Math.exp(-step / 6) + 0.1, lr: 1e-3 * Math.min(1, (step + 1) / 5) }));
  }
  lines.push(JSON.stringify({ phase: 'stage1', step: 0, loss: 2.5 }), JSON.stringify({ phase: 'stage1', step: 5, loss: 2.1 }));
  await writeFile(join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
  const short = await retrievalSet(FIXTURE_SAMPLES, { name: 'toy-short', captions: 'short' });
  const long = await retrievalSet(FIXTURE_SAMPLES, { name: 'toy-long', captions: 'long' });
  const text = new BagOfWordsTextEmbedder();
  const runs = [
    await runBenchmarks({ id: 'llm2clip', textEmbedder: text, imageEmbedder: new PixelLabelImageEmbedder() }, [short, long], { exampleQueries: 2, exampleTopK: 3, thumbnailSize: 32 }),
    await runBenchmarks({ id: 'baseline', textEmbedder: text, imageEmbedder: new PixelLabelImageEmbedder(options.colorBlindBaseline ?? true) }, [short, long], {}),
  ];
  const report = createReport({
    run: options.run ?? 'toy-run',
    createdAt: '2026-01-01T00:00:00.000Z',
    models: runs.map((run) => run.model),
    datasets: runs[0].datasets,
    results: runs.flatMap((run) => run.rows),
    notes: ['Toy embedders <b>not</b> a model.'],
  });
  const written = await writeReport(dir, report, { examples: runs.flatMap((run) => run.examples) });
  return { report, written, runs };
}

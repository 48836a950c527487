#!/usr/bin/env node
/**
 * `llm2clip-flickr30k --karpathy dataset_flickr30k.json --images flickr30k-images --llm <dir>
 * [--adapter <dir>] --vision <dir> --out <run dir> [--steps n] [--batch-size n] [--micro-batch-size n] [--lr x] [--backend name]`
 */
import { parseArgs } from 'node:util';
import { runFlickr30kRecipe } from './index.js';

const { values } = parseArgs({
  options: {
    karpathy: { type: 'string' }, images: { type: 'string' }, llm: { type: 'string' }, adapter: { type: 'string' }, vision: { type: 'string' }, out: { type: 'string' },
    steps: { type: 'string' }, 'batch-size': { type: 'string' }, 'micro-batch-size': { type: 'string' }, lr: { type: 'string' }, backend: { type: 'string' },
  },
});
const { karpathy, images, llm, vision, out } = values;
if (karpathy === undefined || images === undefined || llm === undefined || vision === undefined || out === undefined) {
  console.error('usage: llm2clip-flickr30k --karpathy <dataset_flickr30k.json> --images <flickr30k-images> --llm <dir> [--adapter <dir>] --vision <dir> --out <dir> [--steps n] [--batch-size n] [--micro-batch-size n] [--lr x] [--backend name]');
  process.exit(2);
}
const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
const result = await runFlickr30kRecipe({
  karpathyJson: karpathy, images, llm, vision, out,
  ...(values.adapter !== undefined ? { adapter: values.adapter } : {}),
  ...(values.steps !== undefined ? { steps: num(values.steps)! } : {}),
  ...(values['batch-size'] !== undefined ? { batchSize: num(values['batch-size'])! } : {}),
  ...(values['micro-batch-size'] !== undefined ? { microBatchSize: num(values['micro-batch-size'])! } : {}),
  ...(values.lr !== undefined ? { lr: num(values.lr)! } : {}),
  ...(values.backend !== undefined ? { backend: values.backend } : {}),
});
for (const row of result.run.rows) console.log(`${row.dataset} ${row.metric} ${row.value}`);
console.log(`report: ${result.report.markdown}`);

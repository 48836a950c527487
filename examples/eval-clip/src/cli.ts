#!/usr/bin/env node
/** `eval-clip --model <hf clip dir> --karpathy <dataset_*.json> --images <dir> --out <run dir> [--coco]` */
import { parseArgs } from 'node:util';
import { evaluateClip } from './index.js';

const { values } = parseArgs({
  options: { model: { type: 'string' }, karpathy: { type: 'string' }, images: { type: 'string' }, out: { type: 'string' }, coco: { type: 'boolean', default: false } },
});
if (values.model === undefined || values.karpathy === undefined || values.images === undefined || values.out === undefined) {
  console.error('usage: eval-clip --model <hf clip dir> --karpathy <dataset_flickr30k.json> --images <flickr30k-images> --out <run dir> [--coco]');
  process.exit(2);
}
const { run } = await evaluateClip({ model: values.model, karpathyJson: values.karpathy, images: values.images, out: values.out, benchmark: values.coco ? 'coco' : 'flickr30k' });
for (const row of run.rows) console.log(`${row.dataset} ${row.metric} ${row.value}`);
console.log(`report: ${values.out}/report.md`);

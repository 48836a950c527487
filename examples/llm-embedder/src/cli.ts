#!/usr/bin/env node
/**
 * `llm-embed-captions --model <dir> [--adapter <dir>] [--k 3] query... -- gallery...`: prints the
 * nearest gallery captions of each query.
 */
import { parseArgs } from 'node:util';
import { nearestCaptions } from './index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { model: { type: 'string' }, adapter: { type: 'string' }, k: { type: 'string', default: '3' }, instruction: { type: 'string' } },
});
const split = process.argv.indexOf('--');
if (values.model === undefined || split < 0) {
  console.error('usage: llm-embed-captions --model <dir> [--adapter <dir>] [--k 3] [--instruction <text>] query... -- gallery...');
  process.exit(2);
}
const gallery = process.argv.slice(split + 1);
const queries = positionals.slice(0, positionals.length - gallery.length);
const results = await nearestCaptions(queries, gallery, Number(values.k), {
  model: values.model,
  ...(values.adapter !== undefined ? { adapter: values.adapter } : {}),
  ...(values.instruction !== undefined ? { instruction: values.instruction } : {}),
});
for (const { query, hits } of results) {
  console.log(query);
  for (const hit of hits) console.log(`  ${hit.score.toFixed(4)}  ${hit.caption}`);
}

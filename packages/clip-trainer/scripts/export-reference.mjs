// Writes a reference for scripts/check_export.py: loads a model directory saved by
// saveClipModel (LLM2CLIP text side), embeds seeded random pixels with the vision tower and seeded
// random teacher rows with the adapter, and writes inputs + outputs as JSON.
// Usage: node scripts/export-reference.mjs <modelDir> <out.json>   (build first: pnpm build)
import * as tf from '@tensorflow/tfjs-core';
import { writeFile } from 'node:fs/promises';
import { Rng } from '@llm2clip/core';
import { initBackend } from '@llm2clip/tensor';
import { loadClipModel } from '../dist/index.js';

const [modelDir, outPath] = process.argv.slice(2);
await initBackend({ backend: 'cpu', log: () => {} });
const model = await loadClipModel(modelDir);
if (model.text.kind !== 'llm2clip') throw new Error('expected an LLM2CLIP model (adapter/)');
const size = model.vision.config.image_size;
const rng = new Rng(123);
const pixels = rng.normalArray(2 * 3 * size * size);
const teacherRows = rng.normalArray(2 * model.text.adapter.config.inputDim);
const image = tf.tidy(() => model.vision.forward(tf.tensor4d(pixels, [2, 3, size, size])));
const text = tf.tidy(() => model.text.adapter.forward(tf.tensor2d(teacherRows, [2, model.text.adapter.config.inputDim])));
await writeFile(outPath, JSON.stringify({ pixels: Array.from(pixels), pixelShape: [2, 3, size, size], teacherRows: Array.from(teacherRows), image: Array.from(image.dataSync()), text: Array.from(text.dataSync()), logitScale: model.logitScale }));
model.dispose();
console.log(`wrote ${outPath}`);

#!/usr/bin/env node
// Similarity + top-k at benchmark scale (COCO 5k: 25,000 captions × 5,000 images), the two
// operations every retrieval evaluation runs:
//
//   topk   text→image top-k of every caption (`topK`), blockwise, never the full matrix;
//   ranks  both retrieval directions' ranks in one blockwise pass (`retrievalRanks`).
//
// The reference, measured in the same run on the same data, is PyTorch (Debian python3-torch,
// /usr/bin/python3) doing it the naive way with the full matrix in memory: `T @ I.T` then
// `topk`, and open_clip's `get_clip_metrics` ranking (argsort of the full matrix, both ways).
// It runs with 1 and with 2 torch threads and the faster is used. Without PyTorch, numpy is the
// reference (argpartition for top-k); without python3, only our times are printed.
//
// Prints seconds, GFLOPS of the similarity part, how far each op raised the process's peak
// resident memory (inputs are allocated before), and the ratio
// ours / reference (> 1 means slower than the reference). Needs `pnpm --filter @llm2clip/eval
// build` first (it loads dist/).
//
//   node bench/similarity-topk.mjs [--texts 25000] [--images 5000] [--dim 512] [--k 10] [--skip-ranks]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dist = new URL('../dist/index.js', import.meta.url);
let evalModule;
try {
  evalModule = await import(dist.href);
} catch (error) {
  console.error(`bench/similarity-topk: cannot load ${dist.pathname} (${error.message}); run \`pnpm --filter @llm2clip/eval build\` first`);
  process.exit(1);
}
const { topK, retrievalRanks } = evalModule;

function option(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}
const textCount = Number(option('--texts', '25000'));
const imageCount = Number(option('--images', '5000'));
const dim = Number(option('--dim', '512'));
const k = Number(option('--k', '10'));
const skipRanks = process.argv.includes('--skip-ranks');

/** Seeded unit-norm rows (xorshift + Box–Muller), so both sides see identical data. */
function randomUnitRows(rows, seed) {
  let state = seed >>> 0 || 1;
  const uniform = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return (state + 0.5) / 2 ** 32;
  };
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < data.length; i++) data[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  for (let r = 0; r < rows; r++) {
    let norm = 0;
    for (let c = 0; c < dim; c++) norm += data[r * dim + c] ** 2;
    norm = Math.sqrt(norm);
    for (let c = 0; c < dim; c++) data[r * dim + c] /= norm;
  }
  return { rows, dim, data };
}

const images = randomUnitRows(imageCount, 1);
const texts = randomUnitRows(textCount, 2);
// Each image has textCount / imageCount captions, like COCO's five.
const textToImage = Int32Array.from({ length: textCount }, (_, j) => j % imageCount);
const flops = 2 * textCount * imageCount * dim;

/** Wall time of `fn()` and how far it raised the process's peak resident memory (maxRSS). */
function measure(label, fn) {
  const peakBefore = process.resourceUsage().maxRSS * 1024;
  const start = performance.now();
  const result = fn();
  const seconds = (performance.now() - start) / 1000;
  const peakAfter = process.resourceUsage().maxRSS * 1024;
  return { label, seconds, result, addedMiB: Math.max(0, peakAfter - peakBefore) / 2 ** 20 };
}

console.log(`similarity + top-k: ${textCount} texts × ${imageCount} images, dim ${dim}, k ${k} (${(flops / 1e9).toFixed(1)} GFLOP per pass)`);
console.log(`node ${process.version}; the machine may be shared: times are wall-clock of one run each`);

// Warm-up on a small problem: V8 compiles WebAssembly with its baseline compiler first and
// optimises it while it runs; the measured runs should see the optimised code.
{
  const small = (rows, seed) => randomUnitRows(rows, seed);
  topK(small(256, 7), small(512, 8), k, { assumeNormalized: true });
  retrievalRanks(small(128, 9), small(256, 10), Int32Array.from({ length: 256 }, (_, j) => j % 128), { assumeNormalized: true });
}

const ours = [];
ours.push(measure('topk', () => topK(texts, images, k, { assumeNormalized: true })));
if (!skipRanks) ours.push(measure('ranks', () => retrievalRanks(images, texts, textToImage, { assumeNormalized: true })));

// Reference: the same matrices through python3 (torch if present, else numpy).
const python = ['/usr/bin/python3', 'python3'].find((bin) => spawnSync(bin, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0);
let reference;
if (python !== undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'eval-bench-'));
  try {
    writeFileSync(join(dir, 'images.f32'), Buffer.from(images.data.buffer));
    writeFileSync(join(dir, 'texts.f32'), Buffer.from(texts.data.buffer));
    const script = `
import json, sys, time
import numpy as np
d, n_img, n_txt, k, skip_ranks = ${dim}, ${imageCount}, ${textCount}, ${k}, ${skipRanks ? 'True' : 'False'}
I = np.fromfile(${JSON.stringify(join(dir, 'images.f32'))}, dtype=np.float32).reshape(n_img, d)
T = np.fromfile(${JSON.stringify(join(dir, 'texts.f32'))}, dtype=np.float32).reshape(n_txt, d)
out = {}
try:
    import torch
    It, Tt = torch.from_numpy(I), torch.from_numpy(T)
    gt = torch.arange(n_txt) % n_img
    best = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        t0 = time.perf_counter(); s = Tt @ It.T; v, idx = s.topk(k, dim=1); t1 = time.perf_counter()
        topk_idx = idx
        del s
        r = float('nan')
        if not skip_ranks:
            # open_clip get_clip_metrics: full logits, argsort both ways
            t2 = time.perf_counter()
            logits_per_image = It @ Tt.T
            ranking = torch.argsort(logits_per_image.T, descending=True)  # text -> images
            preds_t2i = torch.where(ranking == gt.view(-1, 1))[1]
            del ranking
            ranking = torch.argsort(logits_per_image, descending=True)  # image -> texts (first caption)
            first = torch.arange(n_img)
            preds_i2t = torch.where(ranking == first.view(-1, 1))[1]
            del ranking, logits_per_image
            r = time.perf_counter() - t2
        for name, sec in (('topk', t1 - t0), ('ranks', r)):
            if sec == sec and (name not in best or sec < best[name][0]):
                best[name] = (sec, threads)
    out = {'impl': 'torch ' + torch.__version__, 'topk': best['topk'][0], 'topk_threads': best['topk'][1], 'topk_idx': topk_idx[:200].tolist()}
    if 'ranks' in best:
        out['ranks'] = best['ranks'][0]; out['ranks_threads'] = best['ranks'][1]
except ImportError:
    t0 = time.perf_counter(); s = T @ I.T; idx = np.argpartition(-s, k, axis=1)[:, :k]; t1 = time.perf_counter()
    out = {'impl': 'numpy ' + np.__version__, 'topk': t1 - t0}
print(json.dumps(out))
`;
    const run = spawnSync(python, ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (run.status === 0) reference = JSON.parse(run.stdout.trim().split('\n').pop());
    else console.log(`reference failed: ${run.stderr.trim().split('\n').pop()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Same top-k answers as the reference (first 200 captions), unless scores tie.
if (reference?.topk_idx !== undefined) {
  const top = ours[0].result;
  let same = 0;
  reference.topk_idx.forEach((row, q) => {
    if (row.every((image, t) => image === top.indices[q * top.k + t])) same++;
  });
  console.log(`top-${k} lists identical to torch for ${same}/${reference.topk_idx.length} checked captions`);
}

console.log('');
console.log('| op | ours (s) | GFLOPS | peak RSS + (MiB) | reference | ref (s) | ours / ref |');
console.log('|:--|--:|--:|--:|:--|--:|--:|');
for (const entry of ours) {
  const ref = reference?.[entry.label];
  const refLabel = reference === undefined ? '—' : `${reference.impl}${reference[`${entry.label}_threads`] !== undefined ? `, ${reference[`${entry.label}_threads`]} thr` : ''}`;
  console.log(
    `| ${entry.label} | ${entry.seconds.toFixed(2)} | ${(flops / entry.seconds / 1e9).toFixed(2)} | ${entry.addedMiB.toFixed(0)} | ${refLabel} | ${ref === undefined ? '—' : ref.toFixed(2)} | ${ref === undefined ? '—' : (entry.seconds / ref).toFixed(1)} |`,
  );
}
console.log('');
console.log(`full float32 matrix for comparison: ${((textCount * imageCount * 4) / 2 ** 20).toFixed(0)} MiB (float64 in JS: ${((textCount * imageCount * 8) / 2 ** 20).toFixed(0)} MiB)`);

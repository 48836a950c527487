#!/usr/bin/env node
// Square matmul throughput of the tfjs backends this package can use: the pure-JS `cpu`
// backend (small sizes only), the stock `wasm` backend, and `native` (wasm + OpenBLAS through
// the N-API addon), for C = A·B and C = A·Bᵀ (the `x · Wᵀ` of a linear layer). Prints GFLOPS
// (best of several runs) and ratios against stock wasm, and writes bench/results.json. Needs `pnpm build` first (it
// loads dist/). Keeps to about a minute: a case whose estimated time exceeds the per-case
// budget is skipped and says so.
//
//   node bench/matmul.mjs [--sizes 256,512,1024,2048] [--budget-s 4]
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

const distBackend = new URL('../dist/backend/', import.meta.url);
let backendModule;
try {
  backendModule = await import(new URL('index.js', distBackend).href);
} catch (error) {
  console.error(`bench/matmul: cannot load ${fileURLToPath(distBackend)} (${error.message}); run \`pnpm --filter @llm2clip/tensor build\` first`);
  process.exit(1);
}
const { initBackend, nativeAddonStatus } = backendModule;
const { registerNativeKernels, restoreStockKernels } = await import(new URL('wasm-kernel-overrides.js', distBackend).href);
const { loadNativeAddon } = await import(new URL('native-addon.js', distBackend).href);

function option(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}
const sizes = option('--sizes', '256,512,1024,2048').split(',').map(Number);
const budgetSeconds = Number(option('--budget-s', '4'));
const cpuMaxSize = 512;
const minSeconds = 0.5;
const minReps = 3;

const status = nativeAddonStatus();
const info = await initBackend({ backend: status.available ? 'native' : 'wasm', log: (line) => console.log(line) });
const addon = loadNativeAddon();
const wasmBackend = tf.findBackend('wasm');

/** Seconds per op and GFLOPS for one configuration, or a skip note when over budget. */
async function measure(backendName, size, transposeB, estimate) {
  if (estimate !== undefined && estimate > budgetSeconds) return { skipped: `est. ${estimate.toFixed(0)} s/op` };
  if (!(await tf.setBackend(backendName))) throw new Error(`bench/matmul: backend ${backendName} failed to initialise`);
  const a = tf.randomUniform([size, size], -1, 1);
  const b = tf.randomUniform([size, size], -1, 1);
  tf.dispose(tf.matMul(a, b, false, transposeB)); // warm-up (kernel setup, heap growth)
  // Best of at least `minReps` runs and `minSeconds`: the machine is shared, and the fastest
  // run is the one least disturbed by other processes. cpu and wasm kernels run synchronously
  // inside matMul, so wall time is compute time.
  let reps = 0;
  let best = Infinity;
  const start = performance.now();
  do {
    const t0 = performance.now();
    tf.dispose(tf.matMul(a, b, false, transposeB));
    best = Math.min(best, (performance.now() - t0) / 1000);
    reps++;
  } while (reps < minReps || (performance.now() - start) / 1000 < minSeconds);
  tf.dispose([a, b]);
  return { seconds: best, reps, gflops: (2 * size ** 3) / best / 1e9 };
}

function estimateFrom(previous, size) {
  // Cubic work growth from the previous size's time (undefined: no estimate, just run).
  return previous?.seconds === undefined ? undefined : previous.seconds * (size / previous.size) ** 3;
}

const results = [];
const last = new Map();
for (const size of sizes) {
  for (const transposeB of [false, true]) {
    const mode = transposeB ? 'A·Bᵀ' : 'A·B';
    const row = { size, mode };
    const run = async (label, backendName) => {
      const key = `${label}/${mode}`;
      const result = await measure(backendName, size, transposeB, estimateFrom(last.get(key), size));
      if (result.seconds !== undefined) last.set(key, { ...result, size });
      row[label] = result;
    };
    if (size <= cpuMaxSize) await run('cpu', 'cpu');
    else row.cpu = { skipped: 'cpu: small sizes only' };
    if (status.available) restoreStockKernels(wasmBackend);
    await run('wasm', 'wasm');
    if (status.available && addon !== undefined) {
      registerNativeKernels(addon);
      await run('native', 'wasm');
    } else {
      row.native = { skipped: status.reason };
    }
    results.push(row);
  }
}

const cell = (r) => (r?.gflops !== undefined ? r.gflops.toFixed(1).padStart(8) : '       -');
const ratio = (r, base) => (r?.gflops !== undefined && base?.gflops !== undefined ? `${(r.gflops / base.gflops).toFixed(2)}x`.padStart(9) : '        -');
console.log(`\nmatmul GFLOPS (float32, square) — native: ${status.available ? `${info.threads} OpenBLAS threads, ${status.blasConfig}` : `unavailable: ${status.reason}`}`);
console.log('  size  mode      cpu     wasm   native  native/wasm  cpu/wasm');
for (const row of results) {
  console.log(
    `${String(row.size).padStart(6)}  ${row.mode.padEnd(5)} ${cell(row.cpu)} ${cell(row.wasm)} ${cell(row.native)}    ${ratio(row.native, row.wasm)} ${ratio(row.cpu, row.wasm)}`,
  );
}
const notes = results.flatMap((row) =>
  ['cpu', 'wasm', 'native'].filter((k) => row[k]?.skipped !== undefined && !row[k].skipped.startsWith('cpu:')).map((k) => `${row.size} ${row.mode} ${k}: skipped (${row[k].skipped})`),
);
for (const note of notes) console.log(`  note: ${note}`);

const out = new URL('results.json', import.meta.url);
writeFileSync(out, `${JSON.stringify({ bench: 'matmul', date: new Date().toISOString(), backend: info, blas: status.blasConfig ?? null, results }, null, 2)}\n`);
console.log(`\nwrote ${fileURLToPath(out)}`);

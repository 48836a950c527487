#!/usr/bin/env node
// One benchmark task on one backend, in its own process (bench/run.mjs starts one per backend
// and task, so peak RSS and tfjs's process-global kernel registry are never shared). Selects the
// backend only through the public `initBackend({ backend })`, so it measures whatever that
// backend is today. Prints its results as lines `@@bench {json}` on stdout, one per finished
// measurement, so a task the parent has to kill still reports what it finished.
//
//   node --expose-gc bench/backend-worker.mjs --backend native --task matmul|vit|llama|leak
//        [--steps 3] [--budget-s 60] [--slow-step-s 30] [--leak-steps 1000] [--leak-budget-s 20]
//        [--sizes 256,512] [--cpu-max-size 512]
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@llm2clip/core';
import { initBackend, computeGradients, disposeGradients, AdamW } from '@llm2clip/tensor';
import { buildVit, buildLlamaLora } from './models.mjs';

function option(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const backend = option('--backend');
const task = option('--task');
const shapes = JSON.parse(readFileSync(new URL('shapes.json', import.meta.url), 'utf8'));
const maxSteps = Number(option('--steps', '3'));
const budgetSeconds = Number(option('--budget-s', '60'));
const leakSteps = Number(option('--leak-steps', '1000'));
const leakBudgetSeconds = Number(option('--leak-budget-s', '20'));
/** A first step slower than this is reported on its own (flagged) instead of warming up and timing more. */
const slowStepSeconds = Number(option('--slow-step-s', '30'));
const cpuMaxSize = Number(option('--cpu-max-size', '512'));
const sizes = option('--sizes', shapes.matmul.sizes.join(',')).split(',').map(Number);
/** Largest estimated seconds for one matmul before it is skipped (the cpu and stock wasm backends are slow). */
const matmulOpBudget = Number(option('--matmul-op-budget-s', '4'));

function emit(record) {
  process.stdout.write(`@@bench ${JSON.stringify({ backend, task, ...record, epochMs: Date.now(), rssMiB: process.memoryUsage().rss / 2 ** 20, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
}

let info;
try {
  info = await initBackend({ backend, log: (line) => process.stderr.write(`${line}\n`) });
} catch (error) {
  emit({ type: 'unavailable', reason: error instanceof Error ? error.message : String(error) });
  process.exit(0);
}
emit({ type: 'backend', info, tfBackend: tf.getBackend() });

// The JS-hosted backends (cpu, wasm, native) compute inside the op call; libtensorflow (tfjs-node,
// and above all its GPU build) may queue work, so there one value is read back to be sure the
// result exists before the clock stops.
const queued = info.tfBackend === 'tensorflow';
function sync(tensor) {
  if (!queued) return;
  tf.tidy(() => tf.slice(tf.reshape(tensor, [-1]), [0], [1]).dataSync());
}

/** Current RSS in MiB, after a full garbage collection when node runs with --expose-gc. */
function settledRssMiB() {
  globalThis.gc?.();
  return process.memoryUsage().rss / 2 ** 20;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function runMatmul() {
  const { modes, minReps, minSeconds } = shapes.matmul;
  const last = new Map();
  for (const size of sizes) {
    for (const mode of modes) {
      const transposeB = mode === 'A·Bᵀ';
      if (info.name === 'cpu' && size > cpuMaxSize) {
        emit({ type: 'matmul', size, mode, skipped: `sizes ≤ ${cpuMaxSize} only (pure JS, < 1 GFLOPS)` });
        continue;
      }
      const previous = last.get(mode);
      const estimate = previous === undefined ? undefined : previous.seconds * (size / previous.size) ** 3;
      if (estimate !== undefined && estimate > matmulOpBudget) {
        emit({ type: 'matmul', size, mode, skipped: `est. ${estimate.toFixed(1)} s per product > ${matmulOpBudget} s budget` });
        continue;
      }
      const rng = new Rng(size);
      const a = tf.tensor2d(rng.normalArray(size * size, 1), [size, size]);
      const b = tf.tensor2d(rng.normalArray(size * size, 1), [size, size]);
      const warm = tf.matMul(a, b, false, transposeB); // kernel set-up, heap growth
      sync(warm);
      warm.dispose();
      // Best of at least `minReps` runs and `minSeconds`: the fastest run is the one least
      // disturbed by other processes on a shared machine (the PyTorch reference does the same).
      let reps = 0;
      let best = Infinity;
      const start = performance.now();
      do {
        const t0 = performance.now();
        const c = tf.matMul(a, b, false, transposeB);
        sync(c);
        best = Math.min(best, (performance.now() - t0) / 1000);
        c.dispose();
        reps++;
      } while (reps < minReps || (performance.now() - start) / 1000 < minSeconds);
      tf.dispose([a, b]);
      last.set(mode, { seconds: best, size });
      emit({ type: 'matmul', size, mode, seconds: best, reps, gflops: (2 * size ** 3) / best / 1e9 });
    }
  }
}

/** One training step: loss, gradients of the trainable weights, AdamW update. Returns the loss. */
function trainStep(model, optimizer) {
  const { loss, grads } = computeGradients(model.params, model.loss);
  optimizer.apply(model.params, grads, shapes.optimizer.lr);
  const value = loss.dataSync()[0];
  loss.dispose();
  disposeGradients(grads);
  return value;
}

function makeOptimizer() {
  const { betas, eps, weightDecay } = shapes.optimizer;
  return new AdamW({ beta1: betas[0], beta2: betas[1], eps, weightDecay });
}

async function runTraining(kind) {
  const config = shapes[kind];
  const t0 = performance.now();
  const model = kind === 'vit' ? buildVit(config, new Rng(1)) : buildLlamaLora(config, new Rng(2));
  const optimizer = makeOptimizer();
  const buildSeconds = (performance.now() - t0) / 1000;
  const base = { type: 'step', model: kind, parameters: model.params.count(), trainable: model.params.count(true), buildSeconds };
  // Warm-up: the first step allocates the optimizer moments, grows the wasm heap and sets up
  // kernels; a second one is taken when steps are cheap.
  emit({ ...base, phase: 'start' }); // lets the parent bound the step time if it has to kill us
  const warmup = [];
  do {
    const s = performance.now();
    trainStep(model, optimizer);
    warmup.push((performance.now() - s) / 1000);
  } while (warmup.length < 2 && warmup[0] < 5);
  emit({ ...base, phase: 'warmup', warmupSeconds: warmup });
  if (warmup[0] > slowStepSeconds) {
    // A backend this slow (stock wasm) cannot fit warm-up and timed steps in the budget: report
    // its one step, flagged, rather than nothing.
    emit({ ...base, phase: 'timed', warmupSeconds: warmup, stepSeconds: [], medianSeconds: warmup[0], singleStepIncludesWarmup: true, losses: [] });
    optimizer.dispose();
    model.dispose();
    return;
  }
  const tensorsBefore = tf.memory().numTensors;
  const rssBefore = settledRssMiB();
  const times = [];
  const losses = [];
  const timingStarted = performance.now();
  while (times.length < maxSteps) {
    // the budget bounds the timed steps (at least one); the parent's time limit bounds it all
    const spent = (performance.now() - timingStarted) / 1000;
    if (times.length > 0 && spent + median(times) > budgetSeconds) break;
    const s = performance.now();
    losses.push(trainStep(model, optimizer));
    times.push((performance.now() - s) / 1000);
  }
  emit({
    ...base,
    phase: 'timed',
    warmupSeconds: warmup,
    stepSeconds: times,
    medianSeconds: median(times),
    losses,
    tensorsBefore,
    tensorsAfter: tf.memory().numTensors,
    rssBeforeMiB: rssBefore,
    rssAfterMiB: settledRssMiB(),
  });
  optimizer.dispose();
  model.dispose();
}

/**
 * Trains the tiny versions of both models for `leakSteps` steps each (or until the leak budget
 * is spent) and reports RSS and tensor counts after the first tenth and at the end: a leak of
 * one tensor per step, or of native memory, shows up as growth.
 */
async function runLeak() {
  const started = performance.now();
  for (const kind of ['llama', 'vit']) {
    const config = shapes.leak[kind];
    const model = kind === 'vit' ? buildVit(config, new Rng(3)) : buildLlamaLora(config, new Rng(4));
    const optimizer = makeOptimizer();
    // The first reading is taken after a tenth of the steps or a fifth of the time, whichever
    // comes first, so allocator and heap warm-up are behind it.
    const checkpoint = Math.max(1, Math.round(leakSteps / 10));
    const kindStart = performance.now();
    const budgetEnd = started + leakBudgetSeconds * 1000 * (kind === 'llama' ? 0.5 : 1);
    const earlyBy = kindStart + (budgetEnd - kindStart) / 5;
    let early;
    let steps = 0;
    while (steps < leakSteps) {
      trainStep(model, optimizer);
      steps++;
      if (early === undefined && (steps === checkpoint || performance.now() > earlyBy)) early = { step: steps, rssMiB: settledRssMiB(), tensors: tf.memory().numTensors };
      if (performance.now() > budgetEnd) break;
    }
    emit({
      type: 'leak',
      model: kind,
      steps,
      requestedSteps: leakSteps,
      msPerStep: (performance.now() - kindStart) / steps,
      early,
      end: { step: steps, rssMiB: settledRssMiB(), tensors: tf.memory().numTensors },
    });
    optimizer.dispose();
    model.dispose();
  }
}

switch (task) {
  case 'matmul':
    await runMatmul();
    break;
  case 'vit':
  case 'llama':
    await runTraining(task);
    break;
  case 'leak':
    await runLeak();
    break;
  default:
    process.stderr.write(`backend-worker: unknown --task ${task}\n`);
    process.exit(2);
}
emit({ type: 'done' });

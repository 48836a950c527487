#!/usr/bin/env node
// `pnpm bench` for @llm2clip/tensor: every tensor backend available here against PyTorch, in one
// run, on the same shapes (bench/shapes.json):
//
//   1. square float32 matmul GFLOPS at 256…2048, A·B and A·Bᵀ;
//   2. milliseconds per training step (forward + backward + AdamW) of (a) a ViT-S/16 encoder at
//      224 px, batch 8 and (b) a Llama-style decoder with LoRA at sequence 128, batch 8
//      (bench/models.mjs; the same models in torch primitives in bench/torch_reference.py);
//   3. each ratio against PyTorch at its best thread setting, peak RSS per backend, and RSS and
//      tensor counts over many steps of tiny versions of both models (leak check);
//   4. bench/results.json with every number, plus PASS/MISS lines for the targets.
//
// Each backend × task runs in its own child process (bench/backend-worker.mjs) that selects the
// backend with the public `initBackend({ backend })`, so RSS and tfjs's global kernel registry
// are never shared, and a crash or time-out costs one cell, not the run. The pure-JS `cpu`
// backend runs the matmul at small sizes only (pure JS, under 1 GFLOPS); its training steps are
// estimated from its matmul speed, not run.
//
//   node bench/run.mjs [--backends native,wasm,cpu] [--tasks matmul,vit,llama,leak] [--steps 3]
//        [--budget-s 40] [--task-timeout-s 60] [--default-task-timeout-s 120] [--leak-steps 1000] [--sizes 256,512,1024,2048]
//        [--no-torch] [--out bench/results.json]
//   node bench/run.mjs --print bench/results.json     (re-print the tables of an earlier run)
//
// PyTorch is looked for under $LLM2CLIP_BENCH_PYTHON, /usr/bin/python3, then python3.
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { cpus, totalmem, release, availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BACKEND_PREFERENCE } from '@llm2clip/tensor';
import { runChild, failureReason } from './processes.mjs';
import { stepFlops } from './models.mjs';
import { printReport, evaluateTargets } from './report.mjs';

function option(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const shapes = JSON.parse(readFileSync(new URL('shapes.json', import.meta.url), 'utf8'));
const backends = option('--backends', BACKEND_PREFERENCE.join(',')).split(',');
const tasks = option('--tasks', 'matmul,vit,llama,leak').split(',');
const steps = option('--steps', '3');
const budget = option('--budget-s', '40');
/** Time limit of one training-step task: the default backend gets more (its numbers are the targets). */
const taskTimeout = Number(option('--task-timeout-s', '60'));
const defaultTaskTimeout = Number(option('--default-task-timeout-s', '120'));
const leakSteps = option('--leak-steps', '1000');
const sizes = option('--sizes', shapes.matmul.sizes.join(','));
const out = option('--out', `${benchDir}results.json`);
const cpuMaxSize = 512;

const log = (line) => console.log(line);

// `--print results.json` re-prints the tables of an earlier run without measuring anything.
const printOnly = option('--print');
if (printOnly !== undefined) {
  printReport(JSON.parse(readFileSync(printOnly, 'utf8')), log);
  process.exit(0);
}
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s`;

function workerArgs(backend, task, isDefault) {
  return ['--expose-gc', `${benchDir}backend-worker.mjs`, '--backend', backend, '--task', task, '--steps', steps, '--budget-s', budget,
    '--leak-steps', leakSteps, '--leak-budget-s', isDefault ? '30' : '8', '--sizes', sizes, '--cpu-max-size', String(cpuMaxSize)];
}

/**
 * Runs every task of one backend, each in its own child. `isDefault`: this is the backend
 * initBackend() picks here, whose numbers the targets are checked on.
 */
async function benchBackend(backend, isDefault) {
  const result = { name: backend, available: undefined, tasks: {}, failures: {}, lowerBoundSeconds: {}, peakRssMiB: undefined };
  for (const task of ['matmul', ...tasks.filter((t) => t !== 'matmul')]) {
    if (result.available === false) break;
    if (backend === 'cpu' && (task === 'vit' || task === 'llama')) {
      const gflops = Math.max(0, ...(result.tasks.matmul ?? []).filter((r) => r.gflops !== undefined && r.mode === 'A·Bᵀ').map((r) => r.gflops));
      const flops = stepFlops(task, shapes[task]);
      result.failures[task] = gflops > 0
        ? `not run: pure-JS backend, est. ≥ ${(flops / gflops / 1e9 / 60).toFixed(0)} min/step (${(flops / 1e9).toFixed(0)} GFLOP at its ${gflops.toFixed(1)} GFLOPS)`
        : 'not run: pure-JS backend (under 1 GFLOPS)';
      continue;
    }
    const timeout = task === 'matmul' ? 120 : task === 'leak' ? 90 : isDefault ? defaultTaskTimeout : taskTimeout;
    log(`${elapsed()}  ${backend} ${task} …`);
    const run = await runChild(process.execPath, workerArgs(backend, task, isDefault), { cwd: packageDir, timeoutSeconds: timeout });
    result.peakRssMiB = Math.max(result.peakRssMiB ?? 0, run.peakRssMiB ?? 0) || undefined;
    const head = run.records.find((r) => r.type === 'backend' || r.type === 'unavailable');
    if (head?.type === 'unavailable') {
      result.available = false;
      result.reason = head.reason;
      log(`${elapsed()}  ${backend}: unavailable — ${head.reason}`);
      break;
    }
    if (head?.type === 'backend') {
      result.available = true;
      result.info = head.info;
    }
    const records = run.records.filter((r) => r.type === task || r.type === 'matmul' || r.type === 'step' || r.type === 'leak');
    if (task === 'matmul') result.tasks.matmul = records;
    else if (task === 'leak') result.tasks.leak = records;
    else {
      result.tasks[task] = records.find((r) => r.phase === 'timed');
    }
    const finished = run.records.some((r) => r.type === 'done');
    if (!finished) {
      result.failures[task] = failureReason(run, timeout);
      // killed before its first step finished: the limit is a lower bound of the step time
      const stepStart = run.records.find((r) => r.type === 'step' && r.phase === 'start');
      if (run.timedOut && stepStart !== undefined && result.tasks[task] === undefined) {
        result.lowerBoundSeconds[task] = (run.killedAtMs - stepStart.epochMs) / 1000;
      }
      if (result.available === undefined) result.available = false;
      log(`${elapsed()}  ${backend} ${task}: ${result.failures[task]}`);
    }
  }
  return result;
}

function findPython() {
  const candidates = [process.env.LLM2CLIP_BENCH_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean);
  const reasons = [];
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (probe.status === 0) return { python, version: probe.stdout.trim() };
    reasons.push(`${python}: ${(probe.error?.message ?? probe.stderr.trim().split('\n').pop() ?? 'failed').slice(0, 120)}`);
  }
  return { reason: `\`import torch\` failed (${reasons.join('; ')}); install Debian python3-torch for the reference` };
}

async function benchTorch() {
  const found = findPython();
  if (found.python === undefined) return { available: false, reason: found.reason };
  const torchTasks = tasks.filter((t) => t !== 'leak');
  log(`${elapsed()}  torch ${torchTasks.join(', ')} at 1 and 2 threads …`);
  const run = await runChild(found.python, [`${benchDir}torch_reference.py`, '--tasks', torchTasks.join(','), '--threads', '1,2',
    '--steps', steps, '--budget-s', String(Number(budget) / 2), '--sizes', sizes], { cwd: packageDir, timeoutSeconds: 400 });
  const head = run.records.find((r) => r.type === 'backend');
  const result = { available: head !== undefined, python: found.python, version: head?.torch ?? found.version, blas: head?.blas, peakRssMiB: run.peakRssMiB, matmul: [], steps: {} };
  for (const record of run.records) {
    if (record.type === 'matmul') {
      let row = result.matmul.find((r) => r.size === record.size && r.mode === record.mode);
      if (row === undefined) result.matmul.push((row = { size: record.size, mode: record.mode, byThreads: {} }));
      row.byThreads[record.threads] = record.gflops;
      if (row.gflops === undefined || record.gflops > row.gflops) Object.assign(row, { gflops: record.gflops, threads: record.threads });
    } else if (record.type === 'step') {
      const entry = (result.steps[record.model] ??= { byThreads: {} });
      entry.byThreads[record.threads] = { medianSeconds: record.medianSeconds, stepSeconds: record.stepSeconds, warmupSeconds: record.warmupSeconds };
      if (entry.medianSeconds === undefined || record.medianSeconds < entry.medianSeconds) Object.assign(entry, { medianSeconds: record.medianSeconds, threads: record.threads, trainable: record.trainable });
    }
  }
  if (!run.records.some((r) => r.type === 'done')) result.failure = failureReason(run, 400);
  return result;
}

function machine() {
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: packageDir, encoding: 'utf8' });
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform} ${release()} ${process.arch}`,
    node: process.version,
    loadAverageAtStart: load,
    commit: git.status === 0 ? git.stdout.trim() : undefined,
  };
}

const machineInfo = machine();
log(`tensor bench: backends ${backends.join(', ')}; tasks ${tasks.join(', ')}; ${machineInfo.cpus} CPUs (${machineInfo.cpu}), load ${machineInfo.loadAverageAtStart.join(' ')}`);
const backendResults = [];
for (const backend of backends) {
  const isDefault = !backendResults.some((b) => b.available);
  backendResults.push(await benchBackend(backend, isDefault));
}
const torch = process.argv.includes('--no-torch') ? { available: false, reason: '--no-torch' } : await benchTorch();

const results = {
  format: 'llm2clip.tensor-bench',
  version: 1,
  date: new Date().toISOString(),
  machine: machineInfo,
  seconds: (performance.now() - started) / 1000,
  loadAverageAtEnd: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
  settings: { backends, tasks, sizes: sizes.split(',').map(Number), steps: Number(steps), budgetSeconds: Number(budget), taskTimeoutSeconds: taskTimeout, defaultTaskTimeoutSeconds: defaultTaskTimeout, leakSteps: Number(leakSteps), cpuMatmulMaxSize: cpuMaxSize },
  shapes,
  stepGflop: { vit: stepFlops('vit', shapes.vit) / 1e9, llama: stepFlops('llama', shapes.llama) / 1e9 },
  backends: backendResults,
  torch,
};
results.targets = evaluateTargets(results);
printReport(results, log);
const temp = `${out}.tmp-${process.pid}`;
writeFileSync(temp, `${JSON.stringify(results, null, 2)}\n`);
renameSync(temp, out);
log(`\nwrote ${out} (${results.seconds.toFixed(0)} s in all)`);

#!/usr/bin/env node
// `pnpm bench` (stage 2, data-parallel): steps/s of a stage-2 run at the demo size with the same
// global batch (64) in 1 process and in 2 ranks under `mpirun -np 2` on this machine, each rank with
// its share of the cores (threads printed), and the share of a 2-rank step spent all-reducing this
// model's gradient (7.7 MB in 101 tensors, bucketed as the trainer does). The all-reduce bandwidth
// of a 100 MB gradient is measured by @llm2clip/distributed's bench (packages/distributed/bench,
// same `pnpm bench`); its last result is printed next to these when present.
// Writes bench/data-parallel-results.json.
//
//   node bench/data-parallel.mjs [--steps 5]        (after pnpm build)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpiAddonStatus } from '@llm2clip/distributed';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const stepsIndex = process.argv.indexOf('--steps');
const steps = stepsIndex >= 0 ? Number(process.argv[stepsIndex + 1]) : 5;
const cores = availableParallelism();
const dir = mkdtempSync(join(tmpdir(), 'llm2clip-dp-bench-'));
const env = { ...process.env };
for (const key of Object.keys(env)) if (/^(OMPI_|PMIX_|PMI_|SLURM_|LLM2CLIP_DISTRIBUTED)/.test(key)) delete env[key];

function runWorker(np) {
  const out = join(dir, `np${np}.json`);
  const threads = String(Math.max(1, Math.floor(cores / np)));
  const args = ['bench/data-parallel-worker.mjs', out, String(steps), threads];
  const job =
    np === 1
      ? spawnSync(process.execPath, args, { cwd: packageDir, env, encoding: 'utf8', timeout: 600_000 })
      : spawnSync('mpirun', ['-np', String(np), '--allow-run-as-root', '--oversubscribe', '--bind-to', 'none', process.execPath, ...args], { cwd: packageDir, env, encoding: 'utf8', timeout: 600_000 });
  if (job.status !== 0) throw new Error(`the ${np}-rank run failed (exit ${job.status}, signal ${job.signal}):\n${job.stdout}\n${job.stderr}`);
  return JSON.parse(readFileSync(out, 'utf8'));
}

const load = loadavg()[0];
const one = runWorker(1);
const mpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
const addon = mpiAddonStatus();
const skipped = mpirun.status !== 0 ? 'mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)' : !addon.available ? `the MPI binding is not built: ${addon.reason}` : undefined;
const two = skipped === undefined ? runWorker(2) : undefined;
rmSync(dir, { recursive: true, force: true });

const row = (label, r) =>
  `${label.padEnd(22)} ${String(r.threadsPerRank).padStart(12)} ${String(r.localBatch).padStart(10)} ${r.secondsPerStep.toFixed(3).padStart(8)} ${(1 / r.secondsPerStep).toFixed(3).padStart(8)} ${(r.batchSize / r.secondsPerStep).toFixed(1).padStart(7)} ${(one.secondsPerStep / r.secondsPerStep).toFixed(2).padStart(9)}`;
console.log(`\nstage 2, demo size (64 px, ViT width 128 × 4 layers, adapter on a 256-d teacher), global batch 64, backend ${one.backend}, ${cores} cores (${cpus()[0]?.model ?? 'unknown'}), load average ${load.toFixed(1)} at the start; steady state = mean of steps 2…${steps}`);
console.log(`${'run'.padEnd(22)} ${'threads/rank'.padStart(12)} ${'rows/rank'.padStart(10)} ${'s/step'.padStart(8)} ${'steps/s'.padStart(8)} ${'img/s'.padStart(7)} ${'vs 1 rank'.padStart(9)}`);
console.log(row('1 process', one));
if (two !== undefined) {
  console.log(row('mpirun -np 2', two));
  const share = two.allReduceSeconds / two.secondsPerStep;
  console.log(
    `gradient all-reduce at 2 ranks: ${((two.gradientFloats * 4) / 1e6).toFixed(1)} MB in ${two.gradientTensors} tensors, ${(two.allReduceSeconds * 1000).toFixed(1)} ms ` +
      `(${((two.gradientFloats * 4) / 1e9 / two.allReduceSeconds).toFixed(2)} GB/s algbw) = ${(share * 100).toFixed(1)} % of a 2-rank step`,
  );
} else {
  console.log(`mpirun -np 2: skipped (${skipped})`);
}
const distributedResults = join(packageDir, '..', 'distributed', 'bench', 'results.json');
let hundredMb;
if (existsSync(distributedResults)) {
  const d = JSON.parse(readFileSync(distributedResults, 'utf8'));
  // the trainer's call: allReduceBucketed over many gradients
  const bucketed = d.cases?.find((c) => String(c.name).startsWith('allReduceBucketed, 200 tensors'));
  hundredMb = d.cases !== undefined ? { date: d.date, cases: d.cases.map((c) => ({ name: c.name, seconds: c.seconds, busbwGBs: c.busbwGBs })) } : undefined;
  if (hundredMb !== undefined) {
    console.log(`100 MB all-reduce at 2 ranks (packages/distributed bench/results.json, ${d.date}):`);
    for (const c of hundredMb.cases) console.log(`  ${String(c.name).padEnd(52)} ${(c.seconds * 1000).toFixed(0).padStart(6)} ms  ${c.busbwGBs.toFixed(2)} GB/s`);
    if (two !== undefined && bucketed !== undefined) console.log(`  the bucketed 100 MB all-reduce takes ${(bucketed.seconds / two.secondsPerStep).toFixed(2)}× the 2-rank stage-2 step above`);
  }
}
if (two === undefined) console.log('(no 2-rank run: nothing to compare)');
console.log('Numbers from a shared 2-core machine are noisy (±30 % or more between runs); with 2 cores, 2 ranks of 1 thread each compete with 1 rank of 2 threads.');

const outPath = join(packageDir, 'bench', 'data-parallel-results.json');
const result = { format: 'llm2clip.bench.data-parallel', version: 1, date: new Date().toISOString(), machine: { cores, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverage: load }, steps, one, two: two ?? null, skipped: skipped ?? null, hundredMb: hundredMb ?? null };
writeFileSync(`${outPath}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
renameSync(`${outPath}.tmp`, outPath);
console.log(`wrote ${outPath}`);

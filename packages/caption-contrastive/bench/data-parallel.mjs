#!/usr/bin/env node
// `pnpm bench` (stage 1, data-parallel): steps/s of stage-1 caption-contrastive training at the demo
// size with the same global batch (32 caption triples) in 1 process and in 2 ranks under
// `mpirun -np 2` on this machine, each rank with its share of the cores (threads printed). Stage 2's
// counterpart and the 100 MB all-reduce bandwidth are in packages/clip-trainer/bench/data-parallel.mjs
// and packages/distributed/bench. Writes bench/data-parallel-results.json.
//
//   node bench/data-parallel.mjs [--steps 5]        (after pnpm build)
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MPIRUN_FLAGS, describeJob, mpiUnavailable, runJob } from '@llm2clip/distributed/testing';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const stepsIndex = process.argv.indexOf('--steps');
const steps = stepsIndex >= 0 ? Number(process.argv[stepsIndex + 1]) : 5;
const cores = availableParallelism();
const dir = mkdtempSync(join(tmpdir(), 'llm2clip-dp1-bench-'));

async function runWorker(np) {
  const out = join(dir, `np${np}.json`);
  const args = ['bench/data-parallel-worker.mjs', out, String(steps), String(Math.max(1, Math.floor(cores / np)))];
  const job =
    np === 1
      ? await runJob(process.execPath, args, { timeoutMs: 600_000, cwd: packageDir })
      : await runJob('mpirun', ['-np', String(np), ...MPIRUN_FLAGS, '--bind-to', 'none', process.execPath, ...args], { timeoutMs: 600_000, cwd: packageDir });
  if (job.code !== 0) throw new Error(`the ${np}-rank run failed: ${describeJob(job)}`);
  return JSON.parse(readFileSync(out, 'utf8'));
}

const load = loadavg()[0];
const one = await runWorker(1);
const skipped = mpiUnavailable({ addon: true });
const two = skipped === undefined ? await runWorker(2) : undefined;
rmSync(dir, { recursive: true, force: true });

const row = (label, r) =>
  `${label.padEnd(16)} ${String(r.threadsPerRank).padStart(12)} ${r.secondsPerStep.toFixed(3).padStart(8)} ${(1 / r.secondsPerStep).toFixed(3).padStart(8)} ${((3 * r.batchSize) / r.secondsPerStep).toFixed(1).padStart(11)} ${(one.secondsPerStep / r.secondsPerStep).toFixed(2).padStart(9)}`;
console.log(
  `\nstage 1, demo size (Llama width 128 × 4 layers, LoRA), global batch ${one.batchSize} triples (${3 * one.batchSize} captions), tokensPerPass ${one.tokensPerPass} ` +
    `(${one.passesPerStep.join('/')} passes per step), backend ${one.backend}, ${cores} cores (${cpus()[0]?.model ?? 'unknown'}), load average ${load.toFixed(1)} at the start; steady state = mean of steps 2…${steps}`,
);
console.log(`${'run'.padEnd(16)} ${'threads/rank'.padStart(12)} ${'s/step'.padStart(8)} ${'steps/s'.padStart(8)} ${'captions/s'.padStart(11)} ${'vs 1 rank'.padStart(9)}`);
console.log(row('1 process', one));
console.log(two !== undefined ? row('mpirun -np 2', two) : `mpirun -np 2: skipped (${skipped})`);
console.log('Numbers from a shared 2-core machine are noisy; with 2 cores, 2 ranks of 1 thread each compete with 1 rank of 2 threads.');

const outPath = join(packageDir, 'bench', 'data-parallel-results.json');
const result = { format: 'llm2clip.bench.stage1-data-parallel', version: 1, date: new Date().toISOString(), machine: { cores, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverage: load }, steps, one, two: two ?? null, skipped: skipped ?? null };
writeFileSync(`${outPath}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
renameSync(`${outPath}.tmp`, outPath);
console.log(`wrote ${outPath}`);

#!/usr/bin/env node
// `pnpm bench` for @llm2clip/distributed: all-reduce bandwidth of a 100 MB float32 gradient at
// world size 2 (mpirun -np 2 on this machine, shared-memory transport), as nccl-tests reports
// it (algbw = bytes / time; busbw = algbw · 2(n-1)/n), for:
//   - a local memcpy of the same bytes (the reference: this machine's memory bandwidth),
//   - one MPI_Allreduce on a Float32Array (what the binding itself moves),
//   - allReduce on one 100 MB tensor (plus the host copies in and out of tfjs),
//   - allReduceBucketed (25 MiB and 1 MiB buckets) vs an all-reduce per tensor, for 100 MB split
//     into 200 and into 20000 gradients.
// Prints a table with ratios against the reference and writes bench/results.json.
//
//   node bench/run.mjs [--np 2] [--mb 100] [--iters 5] [--out bench/results.json]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpiAddonStatus } from '../dist/index.js';

function option(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const np = Number(option('--np', '2'));
const megabytes = Number(option('--mb', '100'));
const iters = Number(option('--iters', '5'));
const outPath = option('--out', join(packageDir, 'bench', 'results.json'));

function writeResults(result) {
  writeFileSync(`${outPath}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(`${outPath}.tmp`, outPath);
  console.log(`wrote ${outPath}`);
}

const base = {
  format: 'llm2clip.bench.distributed',
  version: 1,
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
};

const mpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
const addon = mpiAddonStatus();
if (mpirun.status !== 0 || !addon.available) {
  const reason = mpirun.status !== 0 ? 'mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)' : `the MPI binding is not built: ${addon.reason}`;
  console.log(`[@llm2clip/distributed] bench skipped: ${reason}`);
  writeResults({ ...base, skipped: reason });
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'llm2clip-distributed-bench-'));
const rankOut = join(dir, 'rank-0.json');
const bytes = megabytes * 1024 * 1024;
const env = { ...process.env };
for (const key of Object.keys(env)) if (/^(OMPI_|PMIX_|PMI_|SLURM_)/.test(key)) delete env[key];
const job = spawnSync(
  'mpirun',
  ['-np', String(np), '--allow-run-as-root', '--oversubscribe', process.execPath, 'bench/allreduce-worker.mjs', rankOut, String(bytes), String(iters)],
  { cwd: packageDir, env, encoding: 'utf8', timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
);
if (job.status !== 0) {
  console.error(job.stdout, job.stderr);
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`the benchmark job failed (exit ${job.status}, signal ${job.signal})`);
}
const measured = JSON.parse(readFileSync(rankOut, 'utf8'));
rmSync(dir, { recursive: true, force: true });

const reference = measured.cases[0];
const raw = measured.cases[1];
const rows = measured.cases.map((c) => ({
  ...c,
  vsMemcpy: c.seconds / reference.seconds,
  vsRawMpi: c.seconds / raw.seconds,
}));
const pad = (text, width) => String(text).padEnd(width);
const num = (value, digits = 2) => value.toFixed(digits);
console.log(`\nall-reduce of ${megabytes} MB float32, world size ${measured.worldSize} (mpirun, one machine, ${base.machine.cpus} cores), tfjs backend ${measured.backend}, ${addon.libraryVersion}`);
console.log(`${pad('case', 52)}${pad('ms/op', 10)}${pad('MPI calls', 11)}${pad('algbw GB/s', 12)}${pad('busbw GB/s', 12)}${pad('× memcpy', 10)}× raw MPI`);
for (const row of rows) {
  console.log(
    `${pad(row.name, 52)}${pad(num(row.seconds * 1000, 1), 10)}${pad(row.mpiCalls, 11)}${pad(num(row.algbwGBs), 12)}${pad(row.mpiCalls === 0 ? '-' : num(row.busbwGBs), 12)}${pad(num(row.vsMemcpy), 10)}${num(row.vsRawMpi)}`,
  );
}
const speedups = [200, 20000].flatMap((count) => {
  const unbucketed = rows.find((r) => r.name.startsWith(`unbucketed: allReduce per tensor, ${count} `));
  return ['25 MiB', '1 MiB'].map((label) => {
    const bucketed = rows.find((r) => r.name === `allReduceBucketed, ${count} tensors, ${label} buckets`);
    return { tensors: count, buckets: label, bucketedSpeedup: unbucketed.seconds / bucketed.seconds };
  });
});
for (const s of speedups) console.log(`${s.buckets} buckets are ${num(s.bucketedSpeedup)}× as fast as one all-reduce per tensor with ${s.tensors} tensors`);
console.log('(times are noisy: this machine is shared; busbw = algbw · 2(n-1)/n as nccl-tests defines it for all-reduce)\n');
writeResults({ ...base, mpi: addon.libraryVersion, worldSize: measured.worldSize, backend: measured.backend, iters, bytes: measured.totalBytes, cases: rows, speedups });

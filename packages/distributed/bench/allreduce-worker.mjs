// One rank of the all-reduce benchmark (bench/run.mjs starts it under `mpirun -np N`). Rank 0
// writes the timings to argv[2]. Every case is timed as nccl-tests does: a barrier, `iters`
// back-to-back operations, the slowest rank's mean time per operation.
import { writeFileSync, renameSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@llm2clip/tensor';
import {
  initDistributed,
  getCommunicator,
  allReduce,
  allReduceBucketed,
  barrier,
  finalizeDistributed,
  DEFAULT_BUCKET_BYTES,
  planBuckets,
} from '../dist/index.js';

const outPath = process.argv[2];
const totalBytes = Number(process.argv[3] ?? 100 * 1024 * 1024);
const iters = Number(process.argv[4] ?? 5);
const backendInfo = await initBackend({ log: () => {} });
const group = initDistributed();
const comm = getCommunicator();
const floats = Math.floor(totalBytes / 4);

/** Mean seconds per call of `op` over `iters` calls, the slowest rank's, after one warm-up call. */
async function time(op) {
  await op();
  await barrier();
  const start = performance.now();
  for (let i = 0; i < iters; i++) await op();
  const mine = new Float32Array([(performance.now() - start) / 1000 / iters]);
  await comm.allReduce(mine, 'max');
  return mine[0];
}

function gradients(count) {
  const each = Math.floor(floats / count);
  return Array.from({ length: count }, (_, i) => tf.fill([each], (group.rank + 1) * 0.001 * (i % 7)));
}

const cases = [];
function record(name, seconds, bytes, calls) {
  const algbw = bytes / seconds / 1e9;
  // nccl-tests, all-reduce: busbw = algbw · 2(n-1)/n
  const busbw = (algbw * 2 * (group.worldSize - 1)) / group.worldSize;
  cases.push({ name, seconds, bytes, mpiCalls: calls, algbwGBs: algbw, busbwGBs: busbw });
}

// local reference: one copy of the same bytes on this rank (memory bandwidth, no MPI)
{
  const a = new Float32Array(floats).fill(1);
  const b = new Float32Array(floats);
  const seconds = await time(async () => b.set(a));
  record('memcpy on one rank (reference, no MPI)', seconds, floats * 4, 0);
}

// raw MPI_Allreduce of one float32 buffer
{
  const buf = new Float32Array(floats).fill(group.rank + 1);
  record('MPI_Allreduce, one Float32Array', await time(() => comm.allReduce(buf, 'sum')), floats * 4, 1);
}

// one tensor: dataSync copy, MPI, new tensor
{
  const x = tf.fill([floats], group.rank + 1);
  record('allReduce(tensor), one 100 MB tensor', await time(async () => (await allReduce(x, 'mean')).dispose()), floats * 4, 1);
  x.dispose();
}

for (const count of [200, 20000]) {
  const grads = gradients(count);
  const bytes = grads.reduce((a, g) => a + g.size * 4, 0);
  for (const [label, bucketBytes] of [['25 MiB', DEFAULT_BUCKET_BYTES], ['1 MiB', 1024 * 1024]]) {
    record(
      `allReduceBucketed, ${count} tensors, ${label} buckets`,
      await time(async () => (await allReduceBucketed(grads, { op: 'mean', bucketBytes })).forEach((t) => t.dispose())),
      bytes,
      planBuckets(grads.map((g) => g.size), bucketBytes).length,
    );
  }
  record(
    `unbucketed: allReduce per tensor, ${count} tensors`,
    await time(async () => (await Promise.all(grads.map((g) => allReduce(g, 'mean')))).forEach((t) => t.dispose())),
    bytes,
    count,
  );
  grads.forEach((g) => g.dispose());
}

await finalizeDistributed();
if (group.rank === 0) {
  const result = { worldSize: group.worldSize, backend: backendInfo.name, iters, totalBytes: floats * 4, cases };
  writeFileSync(`${outPath}.tmp`, JSON.stringify(result));
  renameSync(`${outPath}.tmp`, outPath);
}

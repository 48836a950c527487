// Decode-only throughput of the data pipeline (sharp in 2 worker threads, JPEG -> RGB at full size)
// next to PIL (2 processes) decoding the same JPEGs in the same run, and next to what a stage-2
// training step consumes. Decode + RandomResizedCrop with the real CLIP transform (vision's worker
// transform) is measured in packages/clip-trainer/bench/data-pipeline.mjs: the transform is
// vision's, and data must not depend on vision.
// Usage: node bench/decode-bench.mjs [images] [rounds]      (build first: pnpm build)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@llm2clip/core';
import { DataLoader, DecodePool, WebDatasetSource, photoLikeJpeg, writeTarAtomic } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const count = Number(process.argv[2] ?? 128);
const rounds = Number(process.argv[3] ?? 3);
const WORKERS = 2;

function stage2Consumption() {
  const results = join(here, '..', '..', 'clip-trainer', 'bench', 'results.json');
  if (existsSync(results)) {
    try {
      const json = JSON.parse(spawnSync('cat', [results]).stdout.toString());
      const perStep = json.secondsPerStep ?? json.stepSeconds ?? json.llm2clip?.secondsPerStep;
      const batch = json.batchSize ?? json.llm2clip?.batchSize;
      if (typeof perStep === 'number' && typeof batch === 'number') return { imagesPerSecond: batch / perStep, from: results };
    } catch {
      // fall through to the recorded number
    }
  }
  // measured on this machine when the issue was filed: a stage-2 step of batch 32 took ~0.9 s
  return { imagesPerSecond: 32 / 0.9, from: 'recorded: stage-2 step of batch 32 took ~0.9 s on the project machine' };
}

const dir = await mkdtemp(join(tmpdir(), 'llm2clip-decode-bench-'));
try {
  const rng = new Rng(0);
  const keys = [];
  const pixels = {};
  const entries = [];
  for (let i = 0; i < count; i++) {
    const width = rng.int(480, 560);
    const height = rng.int(440, 540);
    const key = String(i).padStart(6, '0');
    const bytes = await photoLikeJpeg(rng, width, height);
    await writeFile(join(dir, `${key}.jpg`), bytes);
    keys.push(key);
    pixels[key] = width * height * 3;
    entries.push({ name: `${key}.jpg`, data: bytes }, { name: `${key}.txt`, data: Buffer.from(`image ${i}`) });
  }
  const shard = join(dir, 'shard-0000.tar');
  await writeTarAtomic(shard, entries);
  const meanKb = entries.filter((_, i) => i % 2 === 0).reduce((sum, e) => sum + e.data.length, 0) / count / 1024;
  console.log(`${count} JPEGs of ~512 px (mean ${meanKb.toFixed(0)} KiB), decoded to RGB at full size (no crop/resize); ${cpus().length} CPUs; best of ${rounds} rounds`);

  // 1. the decode pool alone, images already in memory (what PIL's side measures)
  const pool = new DecodePool({ workers: WORKERS });
  const items = await Promise.all(keys.map(async (key) => ({ key, bytes: await readFile(join(dir, `${key}.jpg`)) })));
  await Promise.all(items.slice(0, WORKERS * 2).map((item) => pool.run({ bytes: item.bytes, key: item.key, seed: 0 })));
  let poolBest = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    const out = await Promise.all(items.map((item) => pool.run({ bytes: item.bytes, key: item.key, seed: 0 })));
    poolBest = Math.min(poolBest, (performance.now() - start) / 1000);
    if (out.some((image, i) => image.channels !== 3 || image.data.length !== pixels[items[i].key])) throw new Error('wrong decoded size');
  }
  await pool.close();

  // 2. the whole loader: tar shard -> samples -> workers -> batches of 32, over several epochs;
  // steady state is timed from the first batch on (worker start-up is reported apart)
  const loader = new DataLoader(new WebDatasetSource(shard), { batchSize: 32, workers: WORKERS, prefetch: 4, epochs: rounds + 1 });
  const loaderStart = performance.now();
  let firstBatchAt;
  let afterFirst = 0;
  for await (const batch of loader) {
    if (firstBatchAt === undefined) firstBatchAt = performance.now();
    else afterFirst += batch.items.length;
  }
  const loaderSeconds = (performance.now() - firstBatchAt) / 1000;
  const startupSeconds = (firstBatchAt - loaderStart) / 1000;
  if (afterFirst !== count * (rounds + 1) - 32) throw new Error(`loader gave ${afterFirst + 32} of ${count * (rounds + 1)} images`);
  const loaderBest = loaderSeconds / (afterFirst / count);

  // 3. PIL with 2 processes, same files
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const probe = spawnSync(python, ['-c', 'import PIL'], { encoding: 'utf8' });
  let pil;
  if (probe.status !== 0) {
    console.log('PIL: skipped — python3-pil is not installed (apt-get install -y python3-pil)');
  } else {
    const run = spawnSync(python, [join(here, 'pil_decode.py'), dir, String(WORKERS), String(rounds)], { encoding: 'utf8' });
    if (run.status !== 0) console.log(`PIL: failed: ${run.stderr.trim().split('\n').at(-1)}`);
    else pil = JSON.parse(run.stdout.trim().split('\n').at(-1));
    const bytes = Object.values(pixels).reduce((a, b) => a + b, 0);
    if (pil !== undefined && pil.bytes !== bytes) throw new Error(`PIL decoded ${pil.bytes} bytes, sharp ${bytes}`);
  }

  const stage2 = stage2Consumption();
  const poolRate = count / poolBest;
  const loaderRate = count / loaderBest;
  const rows = [
    [`sharp, DecodePool ${WORKERS} worker threads (in memory)`, poolRate],
    [`sharp, DataLoader ${WORKERS} workers (tar -> batches of 32, steady)`, loaderRate],
    ...(pil !== undefined ? [[`PIL ${pil.pil}, ${WORKERS} processes (in memory)`, pil.imagesPerSecond]] : []),
    ['stage-2 training step consumes', stage2.imagesPerSecond],
  ];
  console.log(`DataLoader start-up (workers + first batch of 32): ${startupSeconds.toFixed(2)} s`);
  for (const [label, rate] of rows) console.log(`${label.padEnd(66)} ${rate.toFixed(1).padStart(8)} img/s`);
  if (pil !== undefined) console.log(`ratio DecodePool / PIL: ${(poolRate / pil.imagesPerSecond).toFixed(2)}x   DataLoader / PIL: ${(loaderRate / pil.imagesPerSecond).toFixed(2)}x   (decode only)`);
  console.log(`ratio DataLoader / stage-2 consumption: ${(loaderRate / stage2.imagesPerSecond).toFixed(2)}x   (decode only; consumption ${stage2.from})`);
  console.log('decode + RandomResizedCrop with the CLIP transform: packages/clip-trainer/bench/data-pipeline.mjs');
  await writeFile(
    join(here, 'results.json'),
    `${JSON.stringify(
      {
        format: 'llm2clip.bench-results',
        version: 1,
        bench: 'decode',
        work: 'decode only (JPEG -> RGB at full size)',
        images: count,
        rounds,
        workers: WORKERS,
        cpus: cpus().length,
        loaderStartupSeconds: startupSeconds,
        imagesPerSecond: { decodePool: poolRate, dataLoader: loaderRate, pil: pil?.imagesPerSecond ?? null, stage2Consumption: stage2.imagesPerSecond },
        ratios: { poolVsPil: pil ? poolRate / pil.imagesPerSecond : null, loaderVsPil: pil ? loaderRate / pil.imagesPerSecond : null, loaderVsStage2: loaderRate / stage2.imagesPerSecond },
        stage2From: stage2.from,
        measuredAt: new Date().toISOString(),
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}

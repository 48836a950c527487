// Decode + RandomResizedCrop(224) throughput of the REAL stage-2 data pipeline — @llm2clip/data's
// decode workers (2 worker threads, sharp decode) running @llm2clip/vision's CLIP worker transform
// (torchvision RandomResizedCrop geometry, Pillow-exact bicubic) — next to PIL (2 processes) doing
// the same work on the same JPEGs with the same crop boxes, in one run, and next to what a stage-2
// training step consumes. It lives here because the transform is vision's and data must not
// depend on vision; clip-trainer depends on both.
// Usage: node bench/data-pipeline.mjs [images] [rounds] [stage-2 img/s]      (build first: pnpm build)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@llm2clip/core';
import { DataLoader, DecodePool, WebDatasetSource, writeTarAtomic } from '@llm2clip/data';
import { trainCropBox } from '@llm2clip/vision/worker-transform';

// clip-trainer has no sharp of its own: use the one @llm2clip/vision depends on (to make the JPEGs)
const sharp = createRequire(createRequire(import.meta.url).resolve('@llm2clip/vision/package.json'))('sharp');

const here = dirname(fileURLToPath(import.meta.url));
const count = Number(process.argv[2] ?? 128);
const rounds = Number(process.argv[3] ?? 3);
const WORKERS = 2;
const SIZE = 224;
const CHECKED = 8;
const transformOptions = { mode: 'train', size: SIZE }; // RandomResizedCrop scale 0.9-1.0, ratio 3/4-4/3
const workerTransform = { module: import.meta.resolve('@llm2clip/vision/worker-transform'), options: transformOptions };

/** A photo-like JPEG (smooth colour fields + grain) of about 512 px. */
async function photoLikeJpeg(rng, width, height) {
  const coarse = Buffer.alloc(16 * 16 * 3);
  for (let i = 0; i < coarse.length; i++) coarse[i] = rng.int(0, 255);
  const smooth = await sharp(coarse, { raw: { width: 16, height: 16, channels: 3 } }).resize(width, height, { kernel: 'cubic' }).raw().toBuffer();
  for (let i = 0; i < smooth.length; i++) smooth[i] = Math.max(0, Math.min(255, smooth[i] + rng.int(-14, 14)));
  return sharp(smooth, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

/** Images per second a stage-2 step eats: the command line's, or the one recorded on the project machine. */
function stage2Consumption() {
  const given = Number(process.argv[4]);
  if (Number.isFinite(given) && given > 0) return { imagesPerSecond: given, from: 'command line' };
  // measured on this machine when issue 5 was filed: a stage-2 step of batch 32 took ~0.9 s
  return { imagesPerSecond: 32 / 0.9, from: 'recorded: stage-2 step of batch 32 took ~0.9 s on the project machine' };
}

const load = loadavg()[0];
const dir = await mkdtemp(join(tmpdir(), 'llm2clip-data-pipeline-bench-'));
try {
  const rng = new Rng(0);
  const boxes = {};
  const items = [];
  const entries = [];
  for (let i = 0; i < count; i++) {
    const width = rng.int(480, 560);
    const height = rng.int(440, 540);
    const key = String(i).padStart(6, '0');
    const bytes = await photoLikeJpeg(rng, width, height);
    await writeFile(join(dir, `${key}.jpg`), bytes);
    const seed = rng.int(0, 0x7fffffff);
    // the box the vision transform will draw for this seed, handed to PIL as is
    boxes[key] = trainCropBox(width, height, seed, transformOptions);
    items.push({ key, seed, bytes: new Uint8Array(bytes), format: 'jpg' });
    entries.push({ name: `${key}.jpg`, data: bytes }, { name: `${key}.txt`, data: Buffer.from(`image ${i}`) });
  }
  const boxesPath = join(dir, 'boxes.json');
  await writeFile(boxesPath, JSON.stringify(boxes));
  const shard = join(dir, 'shard-0000.tar');
  await writeTarAtomic(shard, entries);
  const meanKb = items.reduce((sum, item) => sum + item.bytes.length, 0) / count / 1024;
  console.log(
    `${count} JPEGs of ~512 px (mean ${meanKb.toFixed(0)} KiB), RandomResizedCrop(scale 0.9-1.0, ratio 3/4-4/3) to ${SIZE}, bicubic; ` +
      `${cpus().length} CPUs, load average ${load.toFixed(2)} at start; best of ${rounds} rounds`,
  );

  // 1. the decode pool with the vision transform, images already in memory (what PIL's side
  // measures): Pillow-exact bicubic (default), and libvips' bicubic (resample: 'sharp')
  async function measurePool(spec) {
    const pool = new DecodePool({ workers: WORKERS, workerTransform: spec });
    const run = (item) => pool.run({ bytes: item.bytes, format: item.format, key: item.key, seed: item.seed });
    await Promise.all(items.slice(0, WORKERS * 2).map(run));
    let best = Infinity;
    let outputs;
    for (let r = 0; r < rounds; r++) {
      const start = performance.now();
      outputs = await Promise.all(items.map(run));
      best = Math.min(best, (performance.now() - start) / 1000);
      if (outputs.some((image) => image.width !== SIZE || image.height !== SIZE || image.data.length !== SIZE * SIZE * 3)) throw new Error('wrong output size');
    }
    await pool.close();
    return { rate: count / best, outputs };
  }
  const exact = await measurePool(workerTransform);
  const fast = await measurePool({ ...workerTransform, options: { ...transformOptions, resample: 'sharp' } });

  // 2. the whole loader: tar shard -> samples -> workers (vision transform) -> batches of 32, over
  // several epochs (new crops each epoch); steady state timed from the first batch on
  async function measureLoader(spec) {
    const loader = new DataLoader(new WebDatasetSource(shard), { batchSize: 32, seed: 1, workers: WORKERS, prefetch: 4, workerTransform: spec, epochs: rounds + 1 });
    const loaderStart = performance.now();
    let firstBatchAt;
    let afterFirst = 0;
    for await (const batch of loader) {
      if (firstBatchAt === undefined) firstBatchAt = performance.now();
      else afterFirst += batch.items.length;
    }
    if (afterFirst !== count * (rounds + 1) - 32) throw new Error(`loader gave ${afterFirst + 32} of ${count * (rounds + 1)} images`);
    return { rate: afterFirst / ((performance.now() - firstBatchAt) / 1000), startup: (firstBatchAt - loaderStart) / 1000 };
  }
  const loaderExact = await measureLoader(workerTransform);
  const loaderFast = await measureLoader({ ...workerTransform, options: { ...transformOptions, resample: 'sharp' } });
  const loaderRate = loaderExact.rate;
  const startupSeconds = loaderExact.startup;

  // 3. PIL with 2 processes, same files and boxes; its first outputs are compared with ours
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const probe = spawnSync(python, ['-c', 'import PIL'], { encoding: 'utf8' });
  let pil;
  let agreement;
  let agreementFast;
  if (probe.status !== 0) {
    console.log('PIL: skipped — python3-pil is not installed (apt-get install -y python3-pil)');
  } else {
    const dump = join(dir, 'pil-outputs.bin');
    const ran = spawnSync(python, [join(here, 'pil_decode.py'), dir, boxesPath, String(WORKERS), String(rounds), String(SIZE), dump, String(CHECKED)], { encoding: 'utf8' });
    if (ran.status !== 0) console.log(`PIL: failed: ${ran.stderr.trim().split('\n').at(-1)}`);
    else {
      pil = JSON.parse(ran.stdout.trim().split('\n').at(-1));
      const theirs = await readFile(dump);
      const compare = (outputs) => {
        const per = SIZE * SIZE * 3;
        let maxDiff = 0;
        let differing = 0;
        let sum = 0;
        const n = Math.min(CHECKED, count);
        for (let i = 0; i < n; i++) {
          const ours = outputs[i].data;
          for (let j = 0; j < per; j++) {
            const d = Math.abs(ours[j] - theirs[i * per + j]);
            if (d > 0) differing++;
            if (d > maxDiff) maxDiff = d;
            sum += d;
          }
        }
        return { images: n, maxAbsDiff: maxDiff, meanAbsDiff: sum / (n * per), differingBytes: differing / (n * per) };
      };
      agreement = compare(exact.outputs);
      agreementFast = compare(fast.outputs);
    }
  }

  const stage2 = stage2Consumption();
  const poolRate = exact.rate;
  const rows = [
    [`ours: DecodePool ${WORKERS} worker threads + vision transform (in memory)`, poolRate],
    [`ours: the same with resample 'sharp' (libvips bicubic, not Pillow-exact)`, fast.rate],
    [`ours: DataLoader ${WORKERS} workers (tar -> batches of 32, steady)`, loaderRate],
    [`ours: DataLoader, resample 'sharp'`, loaderFast.rate],
    ...(pil !== undefined ? [[`PIL ${pil.pil}, ${WORKERS} processes (in memory)`, pil.imagesPerSecond]] : []),
    ['stage-2 training step consumes', stage2.imagesPerSecond],
  ];
  console.log(`DataLoader start-up (workers + first batch of 32): ${startupSeconds.toFixed(2)} s`);
  for (const [label, rate] of rows) console.log(`${label.padEnd(72)} ${rate.toFixed(1).padStart(8)} img/s`);
  if (pil !== undefined) {
    console.log(
      `ratio vs PIL: DecodePool ${(poolRate / pil.imagesPerSecond).toFixed(2)}x   DataLoader ${(loaderRate / pil.imagesPerSecond).toFixed(2)}x   ` +
        `resample 'sharp': DecodePool ${(fast.rate / pil.imagesPerSecond).toFixed(2)}x   DataLoader ${(loaderFast.rate / pil.imagesPerSecond).toFixed(2)}x   (target >= 1)`,
    );
  }
  console.log(
    `ratio DataLoader / stage-2 consumption: ${(loaderRate / stage2.imagesPerSecond).toFixed(2)}x, resample 'sharp' ${(loaderFast.rate / stage2.imagesPerSecond).toFixed(2)}x   ` +
      `(target >= 2; consumption ${stage2.from})`,
  );
  if (agreement !== undefined) {
    const line = (a) => `max |diff| ${a.maxAbsDiff}, mean |diff| ${a.meanAbsDiff.toFixed(3)}, ${(100 * a.differingBytes).toFixed(3)}% of bytes differ`;
    console.log(`same boxes, outputs vs PIL on ${agreement.images} images: Pillow-exact ${line(agreement)}; resample 'sharp' ${line(agreementFast)}`);
  }
  console.log(`load average at end: ${loadavg()[0].toFixed(2)} (shared machine: numbers are noisy)`);
  await writeFile(
    join(here, 'data-pipeline-results.json'),
    `${JSON.stringify(
      {
        format: 'llm2clip.bench-results',
        version: 1,
        bench: 'data-pipeline',
        images: count,
        rounds,
        workers: WORKERS,
        size: SIZE,
        cpus: cpus().length,
        loadAverage: { start: load, end: loadavg()[0] },
        loaderStartupSeconds: startupSeconds,
        imagesPerSecond: { decodePool: poolRate, decodePoolSharpResample: fast.rate, dataLoader: loaderRate, dataLoaderSharpResample: loaderFast.rate, pil: pil?.imagesPerSecond ?? null, stage2Consumption: stage2.imagesPerSecond },
        ratios: { poolVsPil: pil ? poolRate / pil.imagesPerSecond : null, loaderVsPil: pil ? loaderRate / pil.imagesPerSecond : null, loaderVsStage2: loaderRate / stage2.imagesPerSecond, sharpResampleLoaderVsStage2: loaderFast.rate / stage2.imagesPerSecond },
        outputsVsPil: agreement ?? null,
        sharpResampleOutputsVsPil: agreementFast ?? null,
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

// Decode + RandomResizedCrop(224) throughput of the REAL stage-2 data pipeline — @llm2clip/data's
// decode workers (2 worker threads, sharp decode) running @llm2clip/vision's CLIP worker transform
// (torchvision RandomResizedCrop geometry, Pillow-exact bicubic) — next to PIL (2 processes) doing
// the same work on the same JPEGs with the same crop boxes, in one run, and next to what a stage-2
// training step consumes. It lives here because the transform is vision's and data must not
// depend on vision; clip-trainer depends on both.
// The machine may be shared: the rounds of the three in-memory contenders (Pillow-exact, resample
// 'sharp', PIL) are interleaved, in a rotating order, and the ratios reported are the medians of
// the per-round ratios (each from rounds taken seconds apart), next to best-of-rounds rates.
// Usage: node bench/data-pipeline.mjs [images] [rounds] [stage-2 img/s]      (build first: pnpm build)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Rng } from '@llm2clip/core';
import { DataLoader, DecodePool, WebDatasetSource, photoLikeJpeg, writeTarAtomic } from '@llm2clip/data';
import { trainCropBox } from '@llm2clip/vision/worker-transform';


const here = dirname(fileURLToPath(import.meta.url));
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const count = Number(process.argv[2] ?? 128);
const rounds = Number(process.argv[3] ?? 5);
const WORKERS = 2;
const SIZE = 224;
const CHECKED = 8;
const LOADER_COPIES = 4;
const transformOptions = { mode: 'train', size: SIZE }; // RandomResizedCrop scale 0.9-1.0, ratio 3/4-4/3
const workerTransform = { module: import.meta.resolve('@llm2clip/vision/worker-transform'), options: transformOptions };

/** Images per second a stage-2 step eats: the command line's, or the one recorded on the project machine. */
function stage2Consumption() {
  const given = Number(process.argv[4]);
  if (Number.isFinite(given) && given > 0) return { imagesPerSecond: given, from: 'command line' };
  // measured on this machine when issue 5 was filed: a stage-2 step of batch 32 took ~0.9 s
  return { imagesPerSecond: 32 / 0.9, from: 'recorded: stage-2 step of batch 32 took ~0.9 s on the project machine' };
}

/**
 * The PIL side, kept running so that its rounds interleave with ours: torchvision's
 * RandomResizedCrop on a PIL image with the crop box fixed (`F.resized_crop` = `Image.crop` then
 * `Image.resize(size, BICUBIC)`) after `Image.open(...).convert("RGB")` as open_clip's and
 * LLM2CLIP's loaders do, in N processes (a multiprocessing Pool, as a torch DataLoader's workers).
 * Reads "round" lines on stdin and answers each with {"seconds", "cpuSeconds"} (wall time, and the
 * CPU time of all its processes); the first line it prints is
 * {"ready": true, "pil": version} once the pool is warm and the first outputs are dumped.
 */
const PIL_SERVER = String.raw`
import io, json, os, sys, time
from multiprocessing import Pool
from PIL import Image, __version__ as PIL_VERSION

_DATA = {}

def _init(items, size):
    _DATA["items"] = items
    _DATA["size"] = size

def _transform(index):
    name, data, box = _DATA["items"][index]
    size = _DATA["size"]
    image = Image.open(io.BytesIO(data)).convert("RGB")
    left, top, width, height = box["left"], box["top"], box["width"], box["height"]
    return image.crop((left, top, left + width, top + height)).resize((size, size), Image.BICUBIC)

def _work(index):
    cpu = time.process_time()
    size = len(_transform(index).tobytes())
    return size, time.process_time() - cpu

def main():
    directory, boxes_path, processes, size, dump, checked = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
    with open(boxes_path) as f:
        boxes = json.load(f)
    items = []
    for name in sorted(boxes):
        with open(os.path.join(directory, name + ".jpg"), "rb") as f:
            items.append((name, f.read(), boxes[name]))
    _init(items, size)
    with open(dump, "wb") as f:
        for index in range(min(len(items), checked)):
            f.write(_transform(index).tobytes())
    with Pool(processes, initializer=_init, initargs=(items, size)) as pool:
        pool.map(_work, range(min(len(items), processes * 2)))  # warm-up
        print(json.dumps({"ready": True, "pil": PIL_VERSION}), flush=True)
        for line in sys.stdin:
            if line.strip() != "round":
                break
            start = time.perf_counter()
            cpu = time.process_time()
            done = list(pool.imap_unordered(_work, range(len(items)), chunksize=4))
            seconds = time.perf_counter() - start
            # CPU time of the round: the workers' (per image) and this process' (dispatch, results)
            cpu_seconds = sum(c for _, c in done) + time.process_time() - cpu
            assert sum(n for n, _ in done) == len(items) * size * size * 3
            print(json.dumps({"seconds": seconds, "cpuSeconds": cpu_seconds}), flush=True)

if __name__ == "__main__":
    main()
`;

/** Starts the PIL server; `undefined` (with the reason printed) when python3-pil is missing or it fails to start. */
async function startPil(dir, boxesPath, dump) {
  const probe = spawnSync(python, ['-c', 'import PIL'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.log('PIL: skipped — python3-pil is not installed (apt-get install -y python3-pil)');
    return undefined;
  }
  const script = join(dir, 'pil_rrc_server.py');
  await writeFile(script, PIL_SERVER);
  const child = spawn(python, [script, dir, boxesPath, String(WORKERS), String(SIZE), dump, String(CHECKED)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`PIL server stopped: ${stderr.trim().split('\n').at(-1)}`);
    return JSON.parse(value);
  };
  try {
    const ready = await next();
    return {
      version: ready.pil,
      /** One timed round over all images: wall and CPU seconds. */
      async round() {
        child.stdin.write('round\n');
        const { seconds, cpuSeconds } = await next();
        return { seconds, cpuSeconds };
      },
      close() {
        child.stdin.end('quit\n');
      },
    };
  } catch (error) {
    console.log(`PIL: failed: ${error.message}`);
    child.kill();
    return undefined;
  }
}

/** Median of numbers. */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
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
  // the loader's shard holds each JPEG LOADER_COPIES times under distinct keys: epochs of a few
  // hundred samples, so that the drain at each epoch end (the loader finishes an epoch's batches
  // before starting the next) weighs about as little as in real shards of thousands
  const shardEntries = [];
  for (let copy = 0; copy < LOADER_COPIES; copy++) {
    for (let i = 0; i < entries.length; i += 2) {
      const key = `${copy}-${entries[i].name.replace(/\.jpg$/, '')}`;
      shardEntries.push({ name: `${key}.jpg`, data: entries[i].data }, { name: `${key}.txt`, data: entries[i + 1].data });
    }
  }
  await writeTarAtomic(shard, shardEntries);
  const meanKb = items.reduce((sum, item) => sum + item.bytes.length, 0) / count / 1024;
  console.log(
    `${count} JPEGs of ~512 px (mean ${meanKb.toFixed(0)} KiB), RandomResizedCrop(scale 0.9-1.0, ratio 3/4-4/3) to ${SIZE}, bicubic; ` +
      `${cpus().length} CPUs, load average ${load.toFixed(2)} at start; ${rounds} interleaved rounds`,
  );

  // 1. in memory, interleaved: the decode pool with the vision transform — Pillow-exact bicubic
  // (default) and libvips' bicubic (resample: 'sharp') — and PIL with the same boxes
  const sharpSpec = { ...workerTransform, options: { ...transformOptions, resample: 'sharp' } };
  const pools = { exact: new DecodePool({ workers: WORKERS, workerTransform }), fast: new DecodePool({ workers: WORKERS, workerTransform: sharpSpec }) };
  const outputs = {};
  const poolRound = async (name) => {
    const pool = pools[name];
    const cpu = process.cpuUsage();
    const start = performance.now();
    const out = await Promise.all(items.map((item) => pool.run({ bytes: item.bytes, format: item.format, key: item.key, seed: item.seed })));
    const seconds = (performance.now() - start) / 1000;
    // CPU time of this whole process (main thread, worker threads, libuv/libvips threads)
    const used = process.cpuUsage(cpu);
    if (out.some((image) => image.width !== SIZE || image.height !== SIZE || image.data.length !== SIZE * SIZE * 3)) throw new Error('wrong output size');
    outputs[name] = out;
    return { seconds, cpuSeconds: (used.user + used.system) / 1e6 };
  };
  for (const name of Object.keys(pools)) await Promise.all(items.slice(0, WORKERS * 2).map((item) => pools[name].run({ ...item })));
  const dump = join(dir, 'pil-outputs.bin');
  const pil = await startPil(dir, boxesPath, dump);
  const contenders = [['exact', () => poolRound('exact')], ['fast', () => poolRound('fast')], ...(pil ? [['pil', () => pil.round()]] : [])];
  const seconds = { exact: [], fast: [], pil: [] };
  const cpuSeconds = { exact: [], fast: [], pil: [] };
  for (let r = 0; r < rounds; r++) {
    // rotate the order so that no contender always runs right after another
    for (let k = 0; k < contenders.length; k++) {
      const [name, run] = contenders[(r + k) % contenders.length];
      const measured = await run();
      seconds[name].push(measured.seconds);
      cpuSeconds[name].push(measured.cpuSeconds);
    }
  }
  pil?.close();
  await Promise.all(Object.values(pools).map((pool) => pool.close()));
  const best = (name) => count / Math.min(...seconds[name]);
  const poolRate = best('exact');
  const fastRate = best('fast');
  const pilRate = pil ? best('pil') : undefined;
  // per round: PIL's time over ours (= our rate over PIL's), then the median over rounds
  const ratioOf = (name) => (pil ? median(seconds.pil.map((p, r) => p / seconds[name][r])) : undefined);
  const exactRatios = pil ? seconds.pil.map((p, r) => p / seconds.exact[r]) : [];
  const fastRatios = pil ? seconds.pil.map((p, r) => p / seconds.fast[r]) : [];
  // CPU milliseconds per image (all threads / processes): what the rate is on a machine shared with
  // other work, where wall time depends on how the scheduler splits the cores between contenders
  const cpuMs = (name) => (1000 * median(cpuSeconds[name])) / count;
  const cpuRatioOf = (name) => (pil ? median(cpuSeconds.pil.map((p, r) => p / cpuSeconds[name][r])) : undefined);

  // 2. the whole loader: tar shard -> samples -> workers (vision transform) -> batches of 32, over
  // two epochs of LOADER_COPIES x images (new crops each epoch); steady state timed from the first
  // batch on (not interleaved)
  const epochs = 2;
  const perEpoch = count * LOADER_COPIES;
  async function measureLoader(spec) {
    const loader = new DataLoader(new WebDatasetSource(shard), { batchSize: 32, seed: 1, workers: WORKERS, prefetch: 4, workerTransform: spec, epochs });
    const loaderStart = performance.now();
    let firstBatchAt;
    let cpuAtFirst;
    let afterFirst = 0;
    for await (const batch of loader) {
      if (firstBatchAt === undefined) {
        firstBatchAt = performance.now();
        cpuAtFirst = process.cpuUsage();
      } else afterFirst += batch.items.length;
    }
    const cpu = process.cpuUsage(cpuAtFirst);
    if (afterFirst !== perEpoch * epochs - 32) throw new Error(`loader gave ${afterFirst + 32} of ${perEpoch * epochs} images`);
    return {
      rate: afterFirst / ((performance.now() - firstBatchAt) / 1000),
      startup: (firstBatchAt - loaderStart) / 1000,
      cpuMsPerImage: (cpu.user + cpu.system) / 1000 / afterFirst,
    };
  }
  const loaderExact = await measureLoader(workerTransform);
  const loaderFast = await measureLoader(sharpSpec);
  const loaderRate = loaderExact.rate;
  const startupSeconds = loaderExact.startup;

  // 3. the first PIL outputs compared with ours (same boxes)
  let agreement;
  let agreementFast;
  if (pil) {
    const theirs = await readFile(dump);
    const compare = (out) => {
      const per = SIZE * SIZE * 3;
      let maxDiff = 0;
      let differing = 0;
      let sum = 0;
      const n = Math.min(CHECKED, count);
      for (let i = 0; i < n; i++) {
        const ours = out[i].data;
        for (let j = 0; j < per; j++) {
          const d = Math.abs(ours[j] - theirs[i * per + j]);
          if (d > 0) differing++;
          if (d > maxDiff) maxDiff = d;
          sum += d;
        }
      }
      return { images: n, maxAbsDiff: maxDiff, meanAbsDiff: sum / (n * per), differingBytes: differing / (n * per) };
    };
    agreement = compare(outputs.exact);
    agreementFast = compare(outputs.fast);
  }

  const stage2 = stage2Consumption();
  const rows = [
    [`ours: DecodePool ${WORKERS} worker threads + vision transform (in memory)`, poolRate],
    [`ours: the same with resample 'sharp' (libvips bicubic, not Pillow-exact)`, fastRate],
    [`ours: DataLoader ${WORKERS} workers (tar of ${count * LOADER_COPIES} -> batches of 32, steady)`, loaderRate],
    [`ours: DataLoader, resample 'sharp'`, loaderFast.rate],
    ...(pil ? [[`PIL ${pil.version}, ${WORKERS} processes (in memory)`, pilRate]] : []),
    ['stage-2 training step consumes', stage2.imagesPerSecond],
  ];
  console.log(`DataLoader start-up (workers + first batch of 32): ${startupSeconds.toFixed(2)} s`);
  console.log(`best of ${rounds} rounds:`);
  for (const [label, rate] of rows) console.log(`${label.padEnd(72)} ${rate.toFixed(1).padStart(8)} img/s`);
  if (pil) {
    const list = (ratios) => ratios.map((x) => x.toFixed(2)).join(' ');
    console.log(
      `ratio vs PIL (median of per-round ratios, interleaved): DecodePool ${ratioOf('exact').toFixed(2)}x [${list(exactRatios)}]   ` +
        `resample 'sharp' ${ratioOf('fast').toFixed(2)}x [${list(fastRatios)}]   (target >= 1)`,
    );
    console.log(
      `CPU time per image (median over rounds): Pillow-exact ${cpuMs('exact').toFixed(2)} ms, resample 'sharp' ${cpuMs('fast').toFixed(2)} ms, PIL ${cpuMs('pil').toFixed(2)} ms; ` +
        `ratio PIL / ours: Pillow-exact ${cpuRatioOf('exact').toFixed(2)}x, resample 'sharp' ${cpuRatioOf('fast').toFixed(2)}x`,
    );
    console.log(
      `DataLoader CPU time per image (steady, tar reading and batching included): ${loaderExact.cpuMsPerImage.toFixed(2)} ms, resample 'sharp' ${loaderFast.cpuMsPerImage.toFixed(2)} ms; ` +
        `ratio PIL / ours: ${(cpuMs('pil') / loaderExact.cpuMsPerImage).toFixed(2)}x, resample 'sharp' ${(cpuMs('pil') / loaderFast.cpuMsPerImage).toFixed(2)}x`,
    );
    console.log(`ratio vs PIL's best round: DataLoader ${(loaderRate / pilRate).toFixed(2)}x   DataLoader resample 'sharp' ${(loaderFast.rate / pilRate).toFixed(2)}x   (loader not interleaved)`);
  }
  console.log(
    `ratio DataLoader / stage-2 consumption: ${(loaderRate / stage2.imagesPerSecond).toFixed(2)}x, resample 'sharp' ${(loaderFast.rate / stage2.imagesPerSecond).toFixed(2)}x   ` +
      `(target >= 2; consumption ${stage2.from})`,
  );
  if (agreement !== undefined) {
    const line = (a) => `max |diff| ${a.maxAbsDiff}, mean |diff| ${a.meanAbsDiff.toFixed(3)}, ${(100 * a.differingBytes).toFixed(3)}% of bytes differ`;
    console.log(`same boxes, outputs vs PIL on ${agreement.images} images: Pillow-exact ${line(agreement)}; resample 'sharp' ${line(agreementFast)}`);
  }
  console.log(`load average at end: ${loadavg()[0].toFixed(2)} (shared machine: absolute numbers are noisy, the interleaved ratios less so)`);
  await writeFile(
    join(here, 'data-pipeline-results.json'),
    `${JSON.stringify(
      {
        format: 'llm2clip.bench-results',
        version: 2,
        bench: 'data-pipeline',
        images: count,
        rounds,
        workers: WORKERS,
        size: SIZE,
        cpus: cpus().length,
        loadAverage: { start: load, end: loadavg()[0] },
        loaderStartupSeconds: startupSeconds,
        imagesPerSecond: { decodePool: poolRate, decodePoolSharpResample: fastRate, dataLoader: loaderRate, dataLoaderSharpResample: loaderFast.rate, pil: pilRate ?? null, stage2Consumption: stage2.imagesPerSecond },
        roundSeconds: { decodePool: seconds.exact, decodePoolSharpResample: seconds.fast, pil: pil ? seconds.pil : null },
        roundCpuSeconds: { decodePool: cpuSeconds.exact, decodePoolSharpResample: cpuSeconds.fast, pil: pil ? cpuSeconds.pil : null },
        cpuMillisecondsPerImage: {
          decodePool: cpuMs('exact'),
          decodePoolSharpResample: cpuMs('fast'),
          dataLoader: loaderExact.cpuMsPerImage,
          dataLoaderSharpResample: loaderFast.cpuMsPerImage,
          pil: pil ? cpuMs('pil') : null,
        },
        ratios: {
          poolVsPil: pil ? ratioOf('exact') : null,
          sharpResamplePoolVsPil: pil ? ratioOf('fast') : null,
          poolVsPilPerRound: pil ? exactRatios : null,
          sharpResamplePoolVsPilPerRound: pil ? fastRatios : null,
          poolVsPilCpuTime: pil ? cpuRatioOf('exact') : null,
          sharpResamplePoolVsPilCpuTime: pil ? cpuRatioOf('fast') : null,
          loaderVsPil: pil ? loaderRate / pilRate : null,
          loaderVsPilCpuTime: pil ? cpuMs('pil') / loaderExact.cpuMsPerImage : null,
          sharpResampleLoaderVsPilCpuTime: pil ? cpuMs('pil') / loaderFast.cpuMsPerImage : null,
          sharpResampleLoaderVsPil: pil ? loaderFast.rate / pilRate : null,
          loaderVsStage2: loaderRate / stage2.imagesPerSecond,
          sharpResampleLoaderVsStage2: loaderFast.rate / stage2.imagesPerSecond,
        },
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

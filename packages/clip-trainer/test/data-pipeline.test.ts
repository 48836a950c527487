// The data loader's decode workers running the vision package's CLIP transform: the pieces that
// stage 2 wires together (data and vision do not know each other; clip-trainer depends on both).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, type RawImage } from '@llm2clip/core';
import { DataLoader, WebDatasetSource, writeTarAtomic, type TarEntry, type WorkerTransform } from '@llm2clip/data';
import { ImagePreprocessor } from '@llm2clip/vision';
import { cropRaw, randomResizedCropBox, resizeBicubicPil } from '@llm2clip/vision/image-ops';
import clipWorkerTransform, { cropRngForSeed, type ChwImage } from '@llm2clip/vision/worker-transform';
import { tempDir } from './helpers.js';

// the vision transform is a data WorkerTransform (checked by tsc on the test sources' types)
const asWorkerTransform: WorkerTransform = clipWorkerTransform;
void asWorkerTransform;

const SIZE = 24;
const COUNT = 7;

/** A noisy RGB image: every pixel differs, so a wrong box or resize changes the output. */
function noisy(width: number, height: number, rng: Rng): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(0, 255);
  return { kind: 'raw', width, height, channels: 3, data };
}

/** An 8-bit RGB PNG (clip-trainer has no sharp of its own; the loader decodes it with data's sharp). */
function encodePng(image: RawImage): Uint8Array {
  const chunk = (type: string, body: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(body.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
    return Buffer.concat([head, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(image.width, 0);
  header.writeUInt32BE(image.height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, no filter method, no interlace
  const rows = Buffer.alloc((image.width * 3 + 1) * image.height);
  for (let y = 0; y < image.height; y++) rows.set(image.data.subarray(y * image.width * 3, (y + 1) * image.width * 3), y * (image.width * 3 + 1) + 1);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return new Uint8Array(Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]));
}

interface Out {
  key: string;
  seed: number;
  epoch: number;
  image: RawImage | ChwImage;
}

let dir: string;
let shard: string;
const images = new Map<string, RawImage>();
const workerModule = import.meta.resolve('@llm2clip/vision/worker-transform');

async function run(options: Record<string, unknown>, epochs: number): Promise<Out[]> {
  const loader = new DataLoader<RawImage | ChwImage>(new WebDatasetSource(shard), {
    batchSize: 3,
    seed: 11,
    epochs,
    workers: 2,
    workerTransform: { module: workerModule, options },
  });
  const out: Out[] = [];
  for await (const batch of loader) for (const item of batch.items) out.push({ key: item.key, seed: item.seed, epoch: batch.epoch, image: item.image });
  return out;
}

beforeAll(async () => {
  dir = await tempDir('data-pipeline');
  shard = join(dir, 'shard-0000.tar');
  const rng = new Rng(5);
  const entries: TarEntry[] = [];
  for (let i = 0; i < COUNT; i++) {
    const key = String(i).padStart(4, '0');
    // PNG: lossless, so the main thread knows the exact decoded pixels
    const image = noisy(rng.int(30, 60), rng.int(26, 50), rng);
    images.set(key, image);
    entries.push({ name: `${key}.png`, data: encodePng(image) }, { name: `${key}.txt`, data: new TextEncoder().encode(`image ${i}`) });
  }
  await writeTarAtomic(shard, entries);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('DataLoader with the vision worker transform (2 worker threads)', () => {
  it('train mode: equals RandomResizedCrop + Pillow bicubic on the main thread, deterministic across runs', async () => {
    const first = await run({ mode: 'train', size: SIZE }, 2);
    expect(first).toHaveLength(2 * COUNT);
    for (const item of first) {
      const source = images.get(item.key)!;
      const box = randomResizedCropBox(source.width, source.height, cropRngForSeed(item.seed), { scale: [0.9, 1.0], ratio: [3 / 4, 4 / 3] });
      const expected = resizeBicubicPil(cropRaw(source, box), SIZE, SIZE);
      expect(item.image).toMatchObject({ kind: 'raw', width: SIZE, height: SIZE, channels: 3 });
      expect(item.image.data).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(item.image.data as Uint8Array).equals(Buffer.from(expected.data)), `sample ${item.key} epoch ${item.epoch}`).toBe(true);
    }
    // each epoch draws new crops for the same images
    const byEpoch = (epoch: number): Map<string, Out> => new Map(first.filter((item) => item.epoch === epoch).map((item) => [item.key, item]));
    const [e0, e1] = [byEpoch(0), byEpoch(1)];
    expect(e0.size).toBe(COUNT);
    const differing = [...e0.keys()].filter((key) => !Buffer.from(e0.get(key)!.image.data as Uint8Array).equals(Buffer.from(e1.get(key)!.image.data as Uint8Array)));
    expect(differing.length).toBeGreaterThan(COUNT / 2);

    const second = await run({ mode: 'train', size: SIZE }, 2);
    expect(second.map((item) => [item.key, item.seed])).toEqual(first.map((item) => [item.key, item.seed]));
    second.forEach((item, i) => expect(Buffer.from(item.image.data as Uint8Array).equals(Buffer.from(first[i].image.data as Uint8Array))).toBe(true));
  });

  it('eval mode with normalize: equals ImagePreprocessor.preprocess on the main thread', async () => {
    const out = await run({ mode: 'eval', size: SIZE, normalize: true }, 1);
    expect(out).toHaveLength(COUNT);
    const pre = new ImagePreprocessor({ imageSize: SIZE });
    for (const item of out) {
      expect(item.image).toMatchObject({ kind: 'chw', width: SIZE, height: SIZE, channels: 3 });
      expect(item.image.data).toBeInstanceOf(Float32Array);
      expect(Array.from(item.image.data)).toEqual(Array.from(await pre.preprocess(images.get(item.key)!)));
    }
  });
});

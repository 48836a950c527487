import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@llm2clip/core';
import {
  SkipReport,
  WebDatasetSource,
  decodeImage,
  encodePng,
  generateScene,
  openLlm2ClipShards,
  longCaption,
  readCocoIndex,
  readCsvIndex,
  readDocciIndex,
  readJsonlIndex,
  readKarpathyIndex,
  readMemberGroups,
  readShardSizes,
  readShareGpt4vIndex,
  readTarEntries,
  renderScene,
  shortCaption,
  writeFlickrLikeSplit,
  writeTarAtomic,
  type TarEntry,
} from '@llm2clip/data';

import { mutateJsonBytes } from '../mutate.js';
import type { FuzzTarget } from '../target.js';

/** Structure-aware mutation of JSON Lines: one line is mutated as JSON. */
function mutateJsonLines(input: Uint8Array, rng: Rng, keys: readonly string[]): Uint8Array | undefined {
  const lines = new TextDecoder().decode(input).split('\n');
  const index = rng.int(0, lines.length - 1);
  const mutated = mutateJsonBytes(new TextEncoder().encode(lines[index]), rng, keys);
  if (mutated === undefined) return undefined;
  lines[index] = new TextDecoder().decode(mutated);
  return new TextEncoder().encode(lines.join('\n'));
}

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const JSON_TOKENS = ['{', '}', '[', ']', '"', ':', ',', 'null', 'true', '-1', '1e999', '"\\u0000"', '"__proto__"', '{"a":', '[[[[[[[['];

/** A few synthetic scenes: PNG bytes plus short and long captions, made by the project's generator. */
async function scenes(count: number): Promise<Array<{ png: Uint8Array; short: string; long: string }>> {
  const rng = new Rng(7);
  const out = [];
  for (let i = 0; i < count; i++) {
    const scene = generateScene(rng, { maxObjects: 2 });
    out.push({ png: await encodePng(renderScene(scene, 16)), short: shortCaption(scene, rng), long: longCaption(scene, rng) });
  }
  return out;
}

/** Offsets of the header blocks of a tar, following each header's octal size field. */
function tarHeaders(bytes: Uint8Array): number[] {
  const headers: number[] = [];
  let at = 0;
  while (at + 512 <= bytes.length && headers.length < 1000) {
    if (bytes.subarray(at, at + 512).every((b) => b === 0)) break;
    headers.push(at);
    const size = parseInt(new TextDecoder('latin1').decode(bytes.subarray(at + 124, at + 136)).replace(/\0.*$/, '').trim() || '0', 8);
    if (!Number.isSafeInteger(size) || size < 0) break;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return headers;
}

/** Writes the ustar checksum of the header block at `at`. */
function fixTarChecksum(bytes: Uint8Array, at: number): void {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : bytes[at + i];
  bytes.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), at + 148);
}

/** Header fields of a ustar block: [offset, length]. */
const TAR_FIELDS: ReadonlyArray<readonly [number, number]> = [[0, 100], [100, 8], [124, 12], [136, 12], [156, 1], [157, 100], [257, 8], [345, 155]];
const TAR_VALUES = ['0', '5', '2', 'x', 'g', 'L', 'K', '7', '77777777777', '00000001000', '00000000000', '-1', '../../escape.txt', '/abs/path.txt', 'a/b/../../c.json', 'ustar\u000000', 'ustar  \u0000', '', '\u00ff\u00fe'];

/**
 * Structure-aware tar mutation: one field of one member header (name, mode, size, mtime,
 * type flag, link name, magic, prefix) gets a boundary value, then the header checksum is fixed,
 * so the mutation gets past tar-stream's checksum test and reaches the size, type and name logic.
 */
function mutateTarHeader(input: Uint8Array, rng: Rng): Uint8Array | undefined {
  const headers = tarHeaders(input);
  if (headers.length === 0) return undefined;
  const out = input.slice();
  const at = headers[rng.int(0, headers.length - 1)];
  const [offset, length] = TAR_FIELDS[rng.int(0, TAR_FIELDS.length - 1)];
  const value = new TextEncoder().encode(TAR_VALUES[rng.int(0, TAR_VALUES.length - 1)]).subarray(0, length);
  out.fill(0, at + offset, at + offset + length);
  out.set(value, at + offset);
  fixTarChecksum(out, at);
  return out;
}

/** Bytes of a tar written by the project's writer. */
async function tarBytes(entries: TarEntry[]): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'llm2clip-fuzz-seed-'));
  try {
    await writeTarAtomic(join(dir, 'seed.tar'), entries);
    return new Uint8Array(await readFile(join(dir, 'seed.tar')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function webdatasetSeeds(): Promise<Uint8Array[]> {
  const items = await scenes(2);
  const members: TarEntry[] = items.flatMap((item, i) => [
    { name: `${String(i).padStart(6, '0')}.png`, data: item.png },
    { name: `${String(i).padStart(6, '0')}.txt`, data: text(item.short) },
    { name: `${String(i).padStart(6, '0')}.json`, data: text(JSON.stringify({ captions: [item.short, item.long] })) },
  ]);
  return [await tarBytes(members), await tarBytes(members.slice(0, 2)), await tarBytes([{ name: 'dir/a.b.txt', data: text('x') }])];
}

const TAR_TOKENS = ['ustar\u000000', 'ustar  \u0000', '././@LongLink', 'PaxHeader', 'path=', '77777777777', '00000001000', '.json', '.txt', '.png', '../'];

/** `readTarEntries`: the streaming tar reader. */
export const tarTarget: FuzzTarget = {
  name: 'tar',
  description: 'readTarEntries (tar-stream) over a local shard',
  maxLength: 64 * 1024,
  dictionary: TAR_TOKENS,
  structure: mutateTarHeader,
  seeds: webdatasetSeeds,
  async run(input, dir) {
    const path = join(dir, 'shard.tar');
    await writeFile(path, input);
    for await (const entry of readTarEntries(path)) void entry.data.byteLength;
  },
};

/** Webdataset sample grouping and the source on top of it, with bad samples skipped and counted. */
export const webdatasetTarget: FuzzTarget = {
  name: 'webdataset',
  description: 'readMemberGroups + WebDatasetSource (skip report) over one shard',
  maxLength: 64 * 1024,
  dictionary: [...TAR_TOKENS, ...JSON_TOKENS, '"captions"', '"caption"'],
  structure: mutateTarHeader,
  seeds: webdatasetSeeds,
  async run(input, dir) {
    const path = join(dir, 'shard.tar');
    await writeFile(path, input);
    const report = new SkipReport();
    for await (const group of readMemberGroups(path, { onShardError: 'skip', skipReport: report })) void group.members.length;
    for await (const sample of new WebDatasetSource(path, { skipReport: report }).samples({ seed: 1 })) void sample.captions.length;
  },
};

/** The image shard the sidecar target joins against (made once, by the project's writers). */
let pairShard: Promise<Uint8Array> | undefined;

async function llm2clipPair(): Promise<{ shard: Uint8Array; sidecar: Uint8Array }> {
  const items = await scenes(3);
  const key = (i: number): string => String(i).padStart(6, '0');
  const shard = await tarBytes(
    items.flatMap((item, i) => [
      { name: `${key(i)}.png`, data: item.png },
      { name: `${key(i)}.json`, data: text(JSON.stringify({ shortSV_captions: item.short, longSV_captions: item.long })) },
    ]),
  );
  const sidecar = await tarBytes(
    items.flatMap((_, i) => [
      { name: `${key(i)}.shortSV_captions`, data: new Uint8Array(Float32Array.of(i, 0.5, -1, 2).buffer) },
      { name: `${key(i)}.longSV_captions`, data: new Uint8Array(Float32Array.of(-i, 1, 0, 0.25).buffer) },
    ]),
  );
  return { shard, sidecar };
}

/** LLM2CLIP embedding sidecars (`*_text_embeddings.tar`) joined to a fixed, valid image shard. */
export const sidecarTarget: FuzzTarget = {
  name: 'sidecar',
  description: 'openLlm2ClipShards: a webdataset shard joined with its embedding sidecar (the fuzzed file)',
  maxLength: 32 * 1024,
  dictionary: [...TAR_TOKENS, '.shortSV_captions', '.longSV_captions', '000000', '000001'],
  structure: mutateTarHeader,
  async seeds() {
    return [(await llm2clipPair()).sidecar];
  },
  async run(input, dir) {
    pairShard ??= llm2clipPair().then((pair) => pair.shard);
    const shard = join(dir, 'pair.tar');
    await writeFile(shard, await pairShard);
    await writeFile(join(dir, 'pair_text_embeddings.tar'), input);
    for await (const sample of openLlm2ClipShards(shard, { skipReport: new SkipReport() }).samples({ seed: 1 })) void sample.meta;
  },
};

/** open_clip CSV/TSV index. */
export const csvTarget: FuzzTarget = {
  name: 'csv',
  description: 'readCsvIndex (csv-parse) over an open_clip TSV',
  maxLength: 16 * 1024,
  dictionary: ['\t', '\n', '\r\n', '"', '""', 'filepath', 'title', '\ufeff'],
  async seeds() {
    const items = await scenes(3);
    return [
      text(`filepath\ttitle\n${items.map((item, i) => `images/${i}.png\t${item.short}`).join('\n')}\n`),
      text(`filepath\ttitle\n"images/0.png"\t"a ""quoted"" caption"\n`),
    ];
  },
  async run(input, dir) {
    const path = join(dir, 'index.tsv');
    await writeFile(path, input);
    await readCsvIndex(path, { skipReport: new SkipReport() });
  },
};

/** JSON Lines index. */
export const jsonlTarget: FuzzTarget = {
  name: 'jsonl',
  description: 'readJsonlIndex over a JSON Lines index',
  maxLength: 16 * 1024,
  dictionary: [...JSON_TOKENS, '\n', '"image"', '"caption"', '"split"'],
  structure: mutateJsonLines,
  async seeds() {
    const items = await scenes(3);
    return [text(items.map((item, i) => JSON.stringify({ image: `images/${i}.png`, caption: [item.short, item.long], split: 'train' })).join('\n'))];
  },
  async run(input, dir) {
    const path = join(dir, 'index.jsonl');
    await writeFile(path, input);
    await readJsonlIndex(path, { skipReport: new SkipReport(), captionKeys: ['caption', 'long'] });
  },
};

/** COCO captions JSON. */
export const cocoTarget: FuzzTarget = {
  name: 'coco',
  description: 'readCocoIndex over a COCO captions file',
  maxLength: 16 * 1024,
  dictionary: [...JSON_TOKENS, '"images"', '"annotations"', '"id"', '"image_id"', '"file_name"', '"caption"'],
  structure: 'json',
  async seeds() {
    const items = await scenes(3);
    return [
      text(JSON.stringify({
        images: items.map((_, i) => ({ id: i, file_name: `${i}.png`, width: 16, height: 16 })),
        annotations: items.flatMap((item, i) => [{ id: 2 * i, image_id: i, caption: item.short }, { id: 2 * i + 1, image_id: i, caption: item.long }]),
      })),
    ];
  },
  async run(input, dir) {
    const path = join(dir, 'captions.json');
    await writeFile(path, input);
    await readCocoIndex(path, { skipReport: new SkipReport() });
  },
};

/** Karpathy split JSON, seeded with the file the project's Flickr-like writer produces. */
export const karpathyTarget: FuzzTarget = {
  name: 'karpathy',
  description: 'readKarpathyIndex over a Karpathy split file',
  maxLength: 16 * 1024,
  dictionary: [...JSON_TOKENS, '"images"', '"sentences"', '"raw"', '"filename"', '"filepath"', '"split"', '"cocoid"', '"imgid"'],
  structure: 'json',
  async seeds() {
    const dir = await mkdtemp(join(tmpdir(), 'llm2clip-fuzz-seed-'));
    try {
      await writeFlickrLikeSplit(dir, { seed: 3, testImages: 2, trainImages: 1, imageSize: 16 });
      return [new Uint8Array(await readFile(join(dir, 'dataset_flickr30k.json')))];
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
  async run(input, dir) {
    const path = join(dir, 'dataset.json');
    await writeFile(path, input);
    await readKarpathyIndex(path, { skipReport: new SkipReport(), split: 'test' });
  },
};

/** ShareGPT4V conversation JSON. */
export const sharegpt4vTarget: FuzzTarget = {
  name: 'sharegpt4v',
  description: 'readShareGpt4vIndex over a ShareGPT4V file',
  maxLength: 16 * 1024,
  dictionary: [...JSON_TOKENS, '"conversations"', '"from"', '"gpt"', '"human"', '"value"', '"image"', '"id"'],
  structure: 'json',
  async seeds() {
    const items = await scenes(2);
    return [text(JSON.stringify(items.map((item, i) => ({ id: String(i), image: `coco/${i}.png`, conversations: [{ from: 'human', value: '<image>\nDescribe.' }, { from: 'gpt', value: item.long }] }))))];
  },
  async run(input, dir) {
    const path = join(dir, 'sharegpt4v.json');
    await writeFile(path, input);
    await readShareGpt4vIndex(path, { skipReport: new SkipReport() });
  },
};

/** DOCCI JSON Lines. */
export const docciTarget: FuzzTarget = {
  name: 'docci',
  description: 'readDocciIndex over docci_descriptions.jsonlines',
  maxLength: 16 * 1024,
  dictionary: [...JSON_TOKENS, '\n', '"example_id"', '"image_file"', '"description"', '"split"'],
  structure: mutateJsonLines,
  async seeds() {
    const items = await scenes(2);
    return [text(items.map((item, i) => JSON.stringify({ example_id: `test_${i}`, split: 'test', image_file: `test_${i}.jpg`, description: item.long })).join('\n'))];
  },
  async run(input, dir) {
    const path = join(dir, 'docci_descriptions.jsonlines');
    await writeFile(path, input);
    await readDocciIndex(path, { skipReport: new SkipReport(), split: 'test' });
  },
};

/**
 * Shard size tables: the first byte picks the file — open_clip's `sizes.json`, our
 * `shard-manifest.json`, or a `wids` shard index read by `WebDatasetSource.fromShardIndex`.
 */
export const manifestTarget: FuzzTarget = {
  name: 'manifest',
  description: 'readShardSizes (sizes.json, shard-manifest.json) and WebDatasetSource.fromShardIndex',
  maxLength: 8 * 1024,
  dictionary: [...JSON_TOKENS, '"format"', '"version"', '"llm2clip.shard-manifest"', '"shards"', '"file"', '"samples"', '"complete"', '"shardlist"', '"url"', '"nsamples"', '"a.tar"'],
  structure(input, rng, keys) {
    const body = mutateJsonBytes(input.subarray(1), rng, keys);
    return body === undefined ? undefined : Uint8Array.of(input[0] ?? 0, ...body);
  },
  async seeds() {
    return [
      Uint8Array.of(0, ...text(JSON.stringify({ 'a.tar': 3, 'b.tar': '4' }))),
      Uint8Array.of(1, ...text(JSON.stringify({ format: 'llm2clip.shard-manifest', version: 1, shards: [{ file: 'a.tar', samples: 3, complete: true }], total: 3, createdAt: '2026-01-01T00:00:00.000Z' }))),
      Uint8Array.of(2, ...text(JSON.stringify({ __kind__: 'wids-shard-index-v1', name: 'x', shardlist: [{ url: 'a.tar', nsamples: 3 }] }))),
    ];
  },
  async run(input, dir) {
    const kind = input.length > 0 ? input[0] % 3 : 0;
    const body = input.subarray(1);
    if (kind === 2) {
      await writeFile(join(dir, 'index.json'), body);
      await WebDatasetSource.fromShardIndex(join(dir, 'index.json'));
      return;
    }
    await writeFile(join(dir, kind === 0 ? 'sizes.json' : 'shard-manifest.json'), body);
    await readShardSizes([join(dir, 'a.tar'), join(dir, 'b.tar')]);
  },
};

/** Image decoding with the pixel limit: PNG seeds made by the renderer, JPEG/WebP by sharp. */
export const imageTarget: FuzzTarget = {
  name: 'image',
  description: 'decodeImage (sharp/libvips, limitInputPixels) over encoded bytes',
  maxLength: 32 * 1024,
  dictionary: ['\x89PNG\r\n\x1a\n', 'IHDR', 'IDAT', 'IEND', 'PLTE', 'tRNS', '\xff\xd8\xff', '\xff\xc0', '\xff\xda', 'RIFF', 'WEBPVP8 ', 'GIF89a', '\xff\xff'],
  async seeds() {
    const items = await scenes(2);
    const sharp = (await import('sharp')).default;
    const jpeg = new Uint8Array(await sharp(items[0].png).jpeg({ quality: 80 }).toBuffer());
    const webp = new Uint8Array(await sharp(items[1].png).webp().toBuffer());
    return [items[0].png, items[1].png, jpeg, webp];
  },
  async run(input) {
    await decodeImage({ kind: 'encoded', bytes: input }, { key: 'fuzz' });
  },
};

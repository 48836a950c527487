import { createServer, type Server } from 'node:http';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLlm2ClipError } from '@llm2clip/core';
import { SkipReport, WebDatasetSource, openClipBenchmarkDataset, openLlm2ClipShards, openWebDataset, writeTarAtomic, type TarEntry } from '../src/index.js';
import { collect, imageBytes, keysOf } from './helpers/fixtures.js';

let dir: string;
let server: Server;
let baseUrl: string;

const floats = (values: number[]): Buffer => Buffer.from(new Float32Array(values).buffer);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-wdsformats-'));
  // DreamLIP / LLM2CLIP shard: jpg + json with shortSV_captions / longSV_captions
  const main: TarEntry[] = [];
  const side: TarEntry[] = [];
  for (let i = 0; i < 5; i++) {
    const key = `00000${i}`;
    main.push({ name: `${key}.jpg`, data: await imageBytes('jpg', i) });
    main.push({ name: `${key}.json`, data: Buffer.from(JSON.stringify({ shortSV_captions: `short ${i}`, longSV_captions: `long ${i}`, url: `http://x/${i}` })) });
    main.push({ name: `${key}.txt`, data: Buffer.from(`alt text ${i}`) });
    // the sidecar lacks sample 3 and has an extra key; 1 and 2 come swapped
    if (i !== 3) side.push({ name: `${key}.shortSV_captions`, data: floats([i, 0.5]) }, { name: `${key}.longSV_captions`, data: floats([i, -0.5]) });
  }
  const swapped = [...side.slice(0, 2), ...side.slice(4, 6), ...side.slice(2, 4), ...side.slice(6)];
  swapped.push({ name: 'zzz.shortSV_captions', data: floats([9, 9]) }, { name: 'zzz.longSV_captions', data: floats([9, 9]) });
  await writeTarAtomic(join(dir, 'cc3m-0000.tar'), main);
  await writeTarAtomic(join(dir, 'cc3m-0000_text_embeddings.tar'), swapped);

  // CLIP_benchmark layout
  const bench = join(dir, 'wds_cars');
  await mkdir(join(bench, 'test'), { recursive: true });
  await writeFile(join(bench, 'classnames.txt'), 'AM General Hummer SUV 2000\nAcura RL Sedan 2012\n');
  await writeFile(join(bench, 'zeroshot_classification_templates.txt'), 'a photo of a {c}.\na photo of my {c}.\n');
  await writeFile(join(bench, 'test', 'nshards.txt'), '2\n');
  for (let s = 0; s < 2; s++) {
    const entries: TarEntry[] = [];
    for (let i = 0; i < 3; i++) {
      const key = `s${String(s * 3 + i).padStart(7, '0')}`;
      entries.push({ name: `${key}.webp`, data: await imageBytes('webp', i) }, { name: `${key}.cls`, data: Buffer.from(String((s + i) % 2)) });
    }
    if (s === 1) entries.push({ name: 's9999999.webp', data: await imageBytes('webp', 1) }, { name: 's9999999.cls', data: Buffer.from('7') });
    await writeTarAtomic(join(bench, 'test', `${s}.tar`), entries);
  }

  server = createServer((request, response) => {
    const path = join(dir, decodeURIComponent((request.url ?? '/').slice(1)));
    stat(path).then(
      () => {
        response.writeHead(200, { 'content-type': 'application/x-tar' });
        createReadStream(path).pipe(response);
      },
      () => {
        response.writeHead(404);
        response.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('webdataset caption keys', () => {
  it('takes several JSON caption fields and .txt members by key, with the key names as kinds', async () => {
    const source = new WebDatasetSource(join(dir, 'cc3m-0000.tar'), { captionKeys: ['shortSV_captions', 'longSV_captions', '.txt'] });
    const samples = await collect(source);
    expect(samples[0].captions).toEqual(['short 0', 'long 0', 'alt text 0']);
    expect(samples[0].captionKinds).toEqual(['shortSV_captions', 'longSV_captions', 'txt']);
    const onlyText = await collect(new WebDatasetSource(join(dir, 'cc3m-0000.tar'), { captionKeys: ['.txt'] }));
    expect(onlyText[4].captions).toEqual(['alt text 4']);
  });

  it('skips a sample whose chosen caption key is missing, logging its key and file', async () => {
    const lines: string[] = [];
    const report = new SkipReport({ log: (line) => lines.push(line) });
    const samples = await collect(new WebDatasetSource(join(dir, 'cc3m-0000.tar'), { captionKeys: ['nope'], skipReport: report }));
    expect(samples).toEqual([]);
    expect(report.count('missing-captions')).toBe(5);
    expect(lines[0]).toBe(`skip missing-captions: sample 000000 in ${join(dir, 'cc3m-0000.tar')}`);
  });
});

describe('damaged shards', () => {
  it('counts a truncated shard with its file and keeps the samples before the damage and in other shards', async () => {
    const whole = await readFile(join(dir, 'cc3m-0000.tar'));
    const cut = join(dir, 'cut.tar');
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const report = new SkipReport();
    const samples = await collect(new WebDatasetSource([cut, join(dir, 'cc3m-0000.tar')], { captionKeys: ['.txt'], skipReport: report }));
    expect(samples.length).toBeGreaterThan(5);
    expect(samples.length).toBeLessThan(10);
    expect(report.count('truncated-shard')).toBe(1);
    expect(report.summary().examples.find((e) => e.reason === 'truncated-shard')?.file).toBe(cut);
  });

  it('fails with a typed error naming the path when no shard can be read at all', async () => {
    const garbage = join(dir, 'garbage.tar');
    await writeFile(garbage, Buffer.alloc(3000, 0x41));
    const error = await collect(new WebDatasetSource([garbage, garbage], { skipReport: new SkipReport() })).catch((e: unknown) => e);
    expect(isLlm2ClipError(error, 'E_FORMAT')).toBe(true);
    expect((error as Error).message).toContain('garbage.tar');
    const missing = await collect(new WebDatasetSource(join(dir, 'absent-{0..3}.tar'), { skipReport: new SkipReport() })).catch((e: unknown) => e);
    expect(isLlm2ClipError(missing, 'E_NOT_FOUND')).toBe(true);
    expect((missing as Error).message).toContain('absent-0.tar');
  });
});

describe('LLM2CLIP embedding sidecar', () => {
  it('joins x_text_embeddings.tar on __key__, reporting samples without embeddings and orphan embeddings', async () => {
    const report = new SkipReport();
    const source = openLlm2ClipShards(join(dir, 'cc3m-0000.tar'), { skipReport: report });
    const samples = await collect(source);
    expect(keysOf(samples)).toEqual(['000000', '000001', '000002', '000004']);
    const embeddings = samples[2].meta?.embeddings as Record<string, Float32Array>;
    expect(Array.from(embeddings.shortsv_captions)).toEqual([2, 0.5]);
    expect(Array.from(embeddings.longsv_captions)).toEqual([2, -0.5]);
    expect(samples[0].captions).toEqual(['short 0', 'long 0']);
    expect(report.count('missing-embedding')).toBe(1);
    expect(report.summary().examples.find((e) => e.reason === 'missing-embedding')).toMatchObject({ key: '000003', file: join(dir, 'cc3m-0000_text_embeddings.tar') });
    expect(report.count('key-mismatch')).toBe(1);
  });

  it('skips every sample of a shard whose sidecar is missing, naming the sidecar', async () => {
    await writeTarAtomic(join(dir, 'lonely.tar'), [
      { name: 'a.jpg', data: await imageBytes('jpg', 1) },
      { name: 'a.json', data: Buffer.from('{"shortSV_captions":"s","longSV_captions":"l"}') },
    ]);
    const report = new SkipReport();
    expect(await collect(openLlm2ClipShards(join(dir, 'lonely.tar'), { skipReport: report }))).toEqual([]);
    expect(report.summary().examples[0]).toMatchObject({ reason: 'missing-embedding', detail: 'no sidecar file', file: join(dir, 'lonely_text_embeddings.tar') });
  });
});

describe('CLIP_benchmark webdataset layout', () => {
  it('reads classnames, templates, nshards and .cls labels; a label out of range is skipped', async () => {
    const report = new SkipReport();
    const dataset = await openClipBenchmarkDataset(join(dir, 'wds_cars'), { skipReport: report });
    expect(dataset.type).toBe('classification');
    expect(dataset.classnames).toEqual(['AM General Hummer SUV 2000', 'Acura RL Sedan 2012']);
    expect(dataset.templates).toEqual(['a photo of a {c}.', 'a photo of my {c}.']);
    expect(dataset.source.shards).toHaveLength(2);
    const samples = await collect(dataset.source);
    expect(samples).toHaveLength(6);
    expect(samples[1]).toMatchObject({ key: 's0000001', captions: ['Acura RL Sedan 2012'], meta: { label: 1 } });
    expect(samples[1].image).toMatchObject({ format: 'webp' });
    expect(report.count('bad-label')).toBe(1);
    const missing = await openClipBenchmarkDataset(join(dir, 'nothing')).catch((e: unknown) => e);
    expect(isLlm2ClipError(missing, 'E_NOT_FOUND')).toBe(true);
    expect((missing as Error).message).toContain('nshards.txt');
  });
});

describe('http(s) shards', () => {
  it('streams shards and brace patterns from a URL exactly like local files', async () => {
    const local = await collect(new WebDatasetSource(join(dir, 'wds_cars', 'test', '{0..1}.tar'), { labelExtension: 'cls', classnames: ['a', 'b'] }));
    const remote = await collect(new WebDatasetSource(`${baseUrl}/wds_cars/test/{0..1}.tar`, { labelExtension: 'cls', classnames: ['a', 'b'], onShardError: 'skip' }));
    expect(keysOf(remote)).toEqual(keysOf(local));
    expect(Buffer.from((remote[0].image as { bytes: Uint8Array }).bytes).equals(Buffer.from((local[0].image as { bytes: Uint8Array }).bytes))).toBe(true);
    const dataset = await openClipBenchmarkDataset(`${baseUrl}/wds_cars`);
    expect(dataset.classnames).toHaveLength(2);
    expect(await collect(dataset.source)).toHaveLength(6);
  });

  it("reads open_clip's sizes.json beside remote shards, and leaves the size unknown without one", async () => {
    expect((await openWebDataset(`${baseUrl}/wds_cars/test/{0..1}.tar`)).size).toBeUndefined();
    await writeFile(join(dir, 'wds_cars', 'test', 'sizes.json'), JSON.stringify({ '0.tar': 3, '1.tar': 4 }));
    const source = await openWebDataset(`${baseUrl}/wds_cars/test/{0..1}.tar`);
    expect(source.size).toBe(7);
    await rm(join(dir, 'wds_cars', 'test', 'sizes.json'));
  });

  it('fails with E_NOT_FOUND naming the URL on a 404', async () => {
    const error = await collect(new WebDatasetSource(`${baseUrl}/missing.tar`)).catch((e: unknown) => e);
    expect(isLlm2ClipError(error, 'E_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toContain(`${baseUrl}/missing.tar`);
  });
});

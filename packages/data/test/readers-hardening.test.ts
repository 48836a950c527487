import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Llm2ClipError } from '@llm2clip/core';
import {
  DATA_LIMITS,
  SkipReport,
  WebDatasetSource,
  decodeImage,
  readAnnotationJson,
  readCappedLines,
  readCsvIndex,
  readJsonLines,
  readMemberGroups,
  readShardSizes,
  readTarEntries,
  readTextLocation,
  writeTarAtomic,
} from '../src/index.js';
import { collect, imageBytes } from './helpers/fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-readers-hardening-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function typedError(promise: Promise<unknown>): Promise<Llm2ClipError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Llm2ClipError);
  return error as Llm2ClipError;
}

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield Buffer.from(part);
}

describe('line reader with a length cap', () => {
  it('splits lines across chunk boundaries, handles CRLF and reports long lines without keeping them', async () => {
    const lines = await collect(readCappedLines(chunks('ab', 'c\r\nd', 'ef\n', 'x'.repeat(30), 'y'.repeat(30), '\nlast'), 40));
    expect(lines).toEqual([{ text: 'abc' }, { text: 'def' }, { oversized: 60 }, { text: 'last' }]);
  });

  it('counts an oversized JSON line as malformed and reads the lines after it', async () => {
    const path = join(dir, 'long.jsonl');
    await writeFile(path, `{"image":"a.png"}\n{"image":"${'z'.repeat(500)}"}\n{"image":"c.png"}\n`);
    const report = new SkipReport();
    const values = await collect(readJsonLines(path, report, 100));
    expect(values.map((v) => v.line)).toEqual([1, 3]);
    expect(report.summary().counts['malformed-line']).toBe(1);
    expect(report.summary().examples[0].detail).toMatch(/exceeds the 100-byte limit/);
  });
});

describe('CSV record cap', () => {
  it('keeps the records before an oversized record and counts the rest as unread', async () => {
    const path = join(dir, 'big.tsv');
    await writeFile(path, `filepath\ttitle\na.png\tfirst\nb.png\t${'x'.repeat(300)}\nc.png\tthird\n`);
    const report = new SkipReport();
    const records = await readCsvIndex(path, { skipReport: report, maxRecordBytes: 100 });
    expect(records.map((r) => r.key)).toEqual(['a']);
    expect(report.summary().counts['malformed-line']).toBe(2);
    expect(report.summary().examples.some((e) => /rest of the file was not read/.test(e.detail ?? ''))).toBe(true);
  });
});

describe('tar member size cap', () => {
  it('refuses a member larger than maxEntryBytes before buffering it, naming the member', async () => {
    const path = join(dir, 'big-member.tar');
    await writeTarAtomic(path, [{ name: 'ok.txt', data: Buffer.from('hi') }, { name: 'big.bin', data: Buffer.alloc(4096) }]);
    const error = await typedError(collect(readTarEntries(path, { maxEntryBytes: 1024 })));
    expect(error.code).toBe('E_FORMAT');
    expect(error.message).toMatch(/big\.bin.*4096 bytes, over the 1024-byte limit/);
    expect((await collect(readTarEntries(path))).length).toBe(2);
  });

  it('has limits that are finite and positive', () => {
    for (const value of Object.values(DATA_LIMITS)) expect(Number.isSafeInteger(value) && value > 0).toBe(true);
  });

  it('ends a shard whose member header declares an absurd size with a counted error', async () => {
    const path = join(dir, 'absurd.tar');
    await writeTarAtomic(path, [{ name: 'k0.txt', data: Buffer.from('caption') }, { name: 'k1.txt', data: Buffer.from('x') }]);
    const bytes = Buffer.from(await import('node:fs/promises').then((fs) => fs.readFile(path)));
    // second header at 1024: size field (offset 124, 12 bytes) set to 077777777777 octal (8 GiB)
    bytes.write('77777777777\0', 1024 + 124, 'latin1');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : bytes[1024 + i];
    bytes.write(`${sum.toString(8).padStart(6, '0')}\0 `, 1024 + 148, 'latin1');
    await writeFile(path, bytes);
    const report = new SkipReport();
    const groups = await collect(readMemberGroups(path, { onShardError: 'skip', skipReport: report }));
    expect(groups.map((g) => g.key)).toEqual(['k0']);
    expect(report.summary().counts['corrupt-shard'] + report.summary().counts['truncated-shard']).toBe(1);
  });
});

/** Overwrites bytes of the tar header block at `at` and fixes its checksum. */
function patchHeader(bytes: Buffer, at: number, offset: number, value: Uint8Array): void {
  bytes.fill(0, at + offset, at + offset + value.length);
  bytes.set(value, at + offset);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : bytes[at + i];
  bytes.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1');
}

describe('tar headers that used to hang tar-stream (fuzzer findings)', () => {
  async function shard(name: string, patch: (bytes: Buffer) => void): Promise<string> {
    const path = join(dir, name);
    await writeTarAtomic(path, [{ name: 'k0.txt', data: Buffer.from('caption zero') }, { name: 'k1.txt', data: Buffer.from('caption one') }]);
    const bytes = Buffer.from(await import('node:fs/promises').then((fs) => fs.readFile(path)));
    patch(bytes);
    await writeFile(path, bytes);
    return path;
  }

  it('refuses a size field tar-stream cannot decode (base-256 marker other than 0x80/0xff) instead of waiting forever', async () => {
    const path = await shard('bad-size.tar', (bytes) => patchHeader(bytes, 1024, 124, Uint8Array.of(0xc3, 0xbf, 0xc3, 0xbe)));
    const error = await typedError(collect(readTarEntries(path)));
    expect(error.code).toBe('E_FORMAT');
    expect(error.message).toMatch(/k1\.txt.*invalid size field/);
    const report = new SkipReport();
    expect((await collect(readMemberGroups(path, { onShardError: 'skip', skipReport: report }))).map((g) => g.key)).toEqual(['k0']);
    expect(report.summary().counts['corrupt-shard']).toBe(1);
  });

  it('refuses a directory member that declares data bytes instead of waiting forever', async () => {
    const path = await shard('dir-with-data.tar', (bytes) => patchHeader(bytes, 0, 156, new TextEncoder().encode('5')));
    const error = await typedError(collect(readTarEntries(path)));
    expect(error.code).toBe('E_FORMAT');
    expect(error.message).toMatch(/directory member "k0\.txt" declares 12 data bytes/);
  });
});

describe('JSON tables and indexes', () => {
  it('refuses a whole-file JSON annotation over the size cap before reading it', async () => {
    const path = join(dir, 'coco.json');
    await writeFile(path, JSON.stringify({ images: [], annotations: [], pad: 'x'.repeat(2000) }));
    const error = await typedError(readAnnotationJson(path, 'COCO captions file', 1000));
    expect(error.code).toBe('E_FORMAT');
    expect(error.message).toMatch(/over the 1000-byte limit/);
  });

  it('turns a wids shard index that is not an object, or has bad counts, into E_FORMAT (regression)', async () => {
    // before: `null` threw a TypeError, a negative nsamples an E_CONFIG about options
    for (const [i, text] of ['null', '[]', '{"shardlist":[{"url":"a.tar","nsamples":-1}]}', '{"shardlist":[{"url":"a.tar","nsamples":1.5}]}', '{"shardlist":[{"url":"","nsamples":1}]}'].entries()) {
      const path = join(dir, `index-${i}.json`);
      await writeFile(path, text);
      const error = await typedError(WebDatasetSource.fromShardIndex(path));
      expect(error.code, text).toBe('E_FORMAT');
    }
  });

  it('refuses sizes.json and shard manifests that are not what they claim', async () => {
    for (const [i, [file, text]] of [
      ['sizes.json', 'null'],
      ['sizes.json', '{"a.tar": -3}'],
      ['shard-manifest.json', 'null'],
      ['shard-manifest.json', '{"format":"llm2clip.shard-manifest","version":1,"shards":[null]}'],
    ].entries()) {
      const sub = join(dir, `table-${i}`);
      await import('node:fs/promises').then((fs) => fs.mkdir(sub, { recursive: true }));
      await writeFile(join(sub, file), text);
      expect((await typedError(readShardSizes([join(sub, 'a.tar')]))).code, text).toBe('E_FORMAT');
    }
  });
});

describe('small text files (classnames, templates, nshards, remote sizes.json)', () => {
  it('refuses a local file over the limit before reading it', async () => {
    const path = join(dir, 'classnames.txt');
    await writeFile(path, 'cat\ndog\n'.repeat(10));
    expect((await typedError(readTextLocation(path, 'classnames file', 50))).message).toMatch(/classnames file is 80 bytes, over the 50-byte limit/);
    expect(await readTextLocation(path, 'classnames file', 80)).toContain('dog');
  });

  it('cuts off a download once it passes the limit, with or without Content-Length', async () => {
    const server = createServer((request, response) => {
      if (request.url === '/declared') response.setHeader('content-length', '100');
      response.write('x'.repeat(60));
      response.end('y'.repeat(40));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await typedError(readTextLocation(`${base}/declared`, 'sizes.json', 50))).code).toBe('E_FORMAT');
      expect((await typedError(readTextLocation(`${base}/chunked`, 'sizes.json', 50))).message).toMatch(/over the 50-byte limit/);
      expect((await readTextLocation(`${base}/chunked`, 'sizes.json', 100)).length).toBe(100);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

/** A PNG whose IHDR claims `width` × `height`, with a valid CRC, built from a real 1x1 PNG. */
async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer());
  // IHDR data starts at 16 (8 signature + 4 length + 4 type)
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

describe('image decoding pixel limit', () => {
  it('refuses a decompression bomb from its header, quickly', async () => {
    const bomb = await pngClaiming(100_000, 100_000);
    const started = performance.now();
    const error = await typedError(decodeImage({ kind: 'encoded', bytes: bomb, format: 'png' }, { key: 'bomb' }));
    expect(error.code).toBe('E_DATA');
    expect(error.message).toMatch(/pixel limit/i);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses a real, highly compressed image over a smaller limit and decodes it under a larger one', async () => {
    const big = await sharp({ create: { width: 1500, height: 1500, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png({ compressionLevel: 9 }).toBuffer();
    expect(big.length).toBeLessThan(100_000);
    expect((await typedError(decodeImage({ kind: 'encoded', bytes: big }, { limitInputPixels: 1_000_000 }))).message).toMatch(/pixel limit/i);
    const small = await decodeImage({ kind: 'encoded', bytes: await imageBytes('png', 1) }, { limitInputPixels: 1_000_000 });
    expect(small.width).toBe(24);
  });
});

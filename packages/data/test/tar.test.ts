import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLlm2ClipError } from '@llm2clip/core';
import { readTarEntries, writeTarAtomic, type TarEntry } from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-tar-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(path: string): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  for await (const entry of readTarEntries(path)) entries.push(entry);
  return entries;
}

const entries: TarEntry[] = [
  { name: '000000.png', data: new Uint8Array([137, 80, 78, 71, 1, 2, 3]) },
  { name: '000000.json', data: Buffer.from('{"captions":["a red circle"]}') },
  { name: 'sub/dir/000001.txt', data: new Uint8Array(1500).fill(7) },
  { name: 'empty.bin', data: new Uint8Array(0) },
  { name: `${'long-name-'.repeat(20)}.json`, data: Buffer.from('{}') },
];

describe('tar IO', () => {
  it('round-trips names and bytes', async () => {
    const path = join(dir, 'round-trip.tar');
    await writeTarAtomic(path, entries);
    const back = await readAll(path);
    expect(back.map((e) => e.name)).toEqual(entries.map((e) => e.name));
    back.forEach((entry, i) => expect(Buffer.from(entry.data).equals(Buffer.from(entries[i].data))).toBe(true));
    expect((await readdir(dir)).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it('writes identical bytes for identical entries, from sync or async iterables', async () => {
    async function* stream() {
      yield* entries;
    }
    await writeTarAtomic(join(dir, 'a.tar'), entries);
    await writeTarAtomic(join(dir, 'b.tar'), stream());
    expect((await readFile(join(dir, 'a.tar'))).equals(await readFile(join(dir, 'b.tar')))).toBe(true);
  });

  it('reports a truncated archive as E_FORMAT naming the file, wherever it is cut', async () => {
    const whole = await readFile(join(dir, 'a.tar'));
    for (const cut of [0, 100, 512, 700, 1024, 2048, 3000, whole.length - 1024, whole.length - 1]) {
      const path = join(dir, `cut-${cut}.tar`);
      await writeFile(path, whole.subarray(0, cut));
      const error = await readAll(path).catch((e: unknown) => e);
      expect(isLlm2ClipError(error, 'E_FORMAT'), `cut at ${cut}`).toBe(true);
      expect((error as Error).message).toContain(path);
    }
  });

  it('reports garbage as E_FORMAT and a missing file as E_NOT_FOUND', async () => {
    const garbage = join(dir, 'garbage.tar');
    await writeFile(garbage, Buffer.alloc(4096, 0x41));
    expect(isLlm2ClipError(await readAll(garbage).catch((e: unknown) => e), 'E_FORMAT')).toBe(true);
    expect(isLlm2ClipError(await readAll(join(dir, 'missing.tar')).catch((e: unknown) => e), 'E_NOT_FOUND')).toBe(true);
  });

  it('streams: stopping early is fine and yields members one at a time', async () => {
    const path = join(dir, 'a.tar');
    for await (const entry of readTarEntries(path)) {
      expect(entry.name).toBe('000000.png');
      break;
    }
  });

  it('leaves no file behind when writing fails', async () => {
    const path = join(dir, 'failed.tar');
    const error = await writeTarAtomic(path, [{ name: '', data: new Uint8Array(1) }]).catch((e: unknown) => e);
    expect(isLlm2ClipError(error, 'E_CONFIG')).toBe(true);
    expect((await readdir(dir)).filter((name) => name.includes('failed'))).toEqual([]);
  });
});

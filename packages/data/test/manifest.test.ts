import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLlm2ClipError } from '@llm2clip/core';
import { SHARD_MANIFEST_FORMAT, SkipReport, countShardSamples, openWebDataset, readShardSizes, writeTarAtomic, type TarEntry } from '../src/index.js';

let dir: string;
const shardPath = (d: string, i: number): string => join(d, `shard-${String(i).padStart(4, '0')}.tar`);

async function writeShards(d: string, counts: number[]): Promise<void> {
  for (const [s, count] of counts.entries()) {
    const entries: TarEntry[] = [];
    for (let i = 0; i < count; i++) entries.push({ name: `${s}-${i}.png`, data: Buffer.from('x') }, { name: `${s}-${i}.txt`, data: Buffer.from('caption') });
    await writeTarAtomic(shardPath(d, s), entries);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-manifest-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('shard manifests', () => {
  it("reads open_clip's sizes.json (int() of the values, as open_clip)", async () => {
    const d = await mkdtemp(join(dir, 'sizes-'));
    await writeShards(d, [3, 2]);
    await writeFile(join(d, 'sizes.json'), JSON.stringify({ 'shard-0000.tar': 3, 'shard-0001.tar': '2' }));
    expect(await readShardSizes([shardPath(d, 0), shardPath(d, 1)])).toEqual([3, 2]);
    expect(await readShardSizes([shardPath(d, 0), join(d, 'other.tar')])).toBeUndefined();
    const source = await openWebDataset(join(d, 'shard-{0000..0001}.tar'));
    expect(source.size).toBe(5);
    expect(source.shard(1, 2).size).toBe(2);
  });

  it('counts shards in one pass when no table exists and writes a versioned manifest atomically', async () => {
    const d = await mkdtemp(join(dir, 'count-'));
    await writeShards(d, [4, 1, 3]);
    const source = await openWebDataset(join(d, 'shard-{0000..0002}.tar'));
    expect(source.size).toBe(8);
    const manifest = JSON.parse(await readFile(join(d, 'shard-manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: SHARD_MANIFEST_FORMAT, version: 1, total: 8 });
    expect(manifest.shards.map((s: { samples: number }) => s.samples)).toEqual([4, 1, 3]);
    expect((await readdir(d)).filter((name) => name.includes('.tmp'))).toEqual([]);
    // the second open reads the manifest instead of the shards
    await writeFile(join(d, 'shard-manifest.json'), JSON.stringify({ ...manifest, shards: manifest.shards.map((s: object) => ({ ...s, samples: 10 })) }));
    expect((await openWebDataset(join(d, 'shard-{0000..0002}.tar'))).size).toBe(30);
  });

  it('counts a truncated shard up to the damage when given a skip report, and can write sizes.json', async () => {
    const d = await mkdtemp(join(dir, 'trunc-'));
    await writeShards(d, [5]);
    const bytes = await readFile(shardPath(d, 0));
    await writeFile(shardPath(d, 0), bytes.subarray(0, 512 * 9));
    await expect(countShardSamples([shardPath(d, 0)], { write: false })).rejects.toMatchObject({ code: 'E_FORMAT' });
    const report = new SkipReport();
    const [count] = await countShardSamples([shardPath(d, 0)], { skipReport: report, writeSizesJson: true });
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThan(5);
    expect(report.count('truncated-shard') + report.count('corrupt-shard')).toBe(1);
    expect(JSON.parse(await readFile(join(d, 'sizes.json'), 'utf8'))).toEqual({ 'shard-0000.tar': count });
  });

  it('rejects a manifest of another format with E_FORMAT naming it', async () => {
    const d = await mkdtemp(join(dir, 'bad-'));
    await writeFile(join(d, 'shard-manifest.json'), JSON.stringify({ format: 'something-else', version: 1, shards: [] }));
    const error = await readShardSizes([join(d, 'a.tar')]).catch((e: unknown) => e);
    expect(isLlm2ClipError(error, 'E_FORMAT')).toBe(true);
    expect((error as Error).message).toContain('shard-manifest.json');
  });
});

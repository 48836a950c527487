import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLlm2ClipError } from '@llm2clip/core';
import { SkipReport, readMemberGroups, writeTarAtomic, type MemberGroup, type TarEntry } from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-tar-groups-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A shard with one good sample, then `count` members under one key, then another good sample. */
async function shardWithCrowdedSample(count: number, bytesEach: number): Promise<string> {
  const entries: TarEntry[] = [{ name: 'good0.txt', data: Buffer.from('first') }];
  for (let i = 0; i < count; i++) entries.push({ name: `crowd.part${i}.bin`, data: new Uint8Array(bytesEach) });
  entries.push({ name: 'good1.txt', data: Buffer.from('last') });
  const path = join(dir, `crowd-${count}-${bytesEach}.tar`);
  await writeTarAtomic(path, entries);
  return path;
}

async function collect(path: string, options: Parameters<typeof readMemberGroups>[1]): Promise<MemberGroup[]> {
  const groups: MemberGroup[] = [];
  for await (const group of readMemberGroups(path, options)) groups.push(group);
  return groups;
}

describe('readMemberGroups limits', () => {
  it('refuses a sample with too many members, naming the shard and key', async () => {
    const path = await shardWithCrowdedSample(9, 1);
    const error = await collect(path, { maxSampleMembers: 8 }).catch((e: unknown) => e);
    expect(isLlm2ClipError(error, 'E_FORMAT')).toBe(true);
    expect((error as Error).message).toContain('crowd');
    expect((error as Error).message).toContain(path);
  });

  it('refuses a sample whose members add up to too many bytes', async () => {
    const path = await shardWithCrowdedSample(4, 1000);
    const error = await collect(path, { maxSampleBytes: 3500 }).catch((e: unknown) => e);
    expect(isLlm2ClipError(error, 'E_FORMAT')).toBe(true);
    expect((error as Error).message).toMatch(/more than 3500 bytes/);
  });

  it('in skip mode, yields the samples before the damage and counts the shard', async () => {
    const path = await shardWithCrowdedSample(9, 1);
    const skipReport = new SkipReport();
    const groups = await collect(path, { maxSampleMembers: 8, onShardError: 'skip', skipReport });
    expect(groups.map((g) => g.key)).toEqual(['good0']);
    expect(skipReport.count('corrupt-shard')).toBe(1);
  });

  it('reads a sample exactly at the limits', async () => {
    const path = await shardWithCrowdedSample(8, 100);
    const groups = await collect(path, { maxSampleMembers: 8, maxSampleBytes: 800 });
    expect(groups.map((g) => [g.key, g.members.length])).toEqual([
      ['good0', 1],
      ['crowd', 8],
      ['good1', 1],
    ]);
  });
});

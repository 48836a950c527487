import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeStaleTempSiblings, writeDirectoryAtomic, writeFileAtomic } from '../src/index.js';

let dir: string;
/** A pid that surely ran and ended: a child that has exited. */
let deadPid: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-atomic-'));
  deadPid = spawnSync(process.execPath, ['-e', '0']).pid as number;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('stale temporary siblings of atomic writes', () => {
  it('a write removes what a killed writer of the same file left, and nothing else', async () => {
    const target = join(dir, 'run-config.json');
    const deadTemp = `.run-config.json.tmp-${deadPid}-0123abcd`;
    const ownAbandoned = `.run-config.json.tmp-${process.pid}-89abcdef`;
    const otherFile = `.other.json.tmp-${deadPid}-0123abcd`;
    const liveWriter = `.run-config.json.tmp-${process.ppid}-deadbeef`;
    for (const name of [deadTemp, ownAbandoned, otherFile, liveWriter]) await writeFile(join(dir, name), 'partial');
    await writeFileAtomic(target, '{"ok":true}\n');
    const names = await readdir(dir);
    expect(names).not.toContain(deadTemp);
    expect(names).not.toContain(ownAbandoned);
    expect(names).toContain(otherFile);
    expect(names).toContain(liveWriter);
    expect(await readFile(target, 'utf8')).toBe('{"ok":true}\n');
  });

  it('a directory write clears an interrupted replacement and keeps the new directory whole', async () => {
    const target = join(dir, 'adapter');
    await writeDirectoryAtomic(target, async (temp) => writeFile(join(temp, 'weights.bin'), 'v1'));
    const leftoverTmp = join(dir, `.adapter.tmp-${deadPid}-00000000`);
    const leftoverOld = join(dir, `.adapter.old-${deadPid}-11111111`);
    await mkdir(leftoverTmp);
    await mkdir(leftoverOld);
    await writeFile(join(leftoverTmp, 'weights.bin'), 'half');
    await writeDirectoryAtomic(target, async (temp) => writeFile(join(temp, 'weights.bin'), 'v2'));
    expect(await readFile(join(target, 'weights.bin'), 'utf8')).toBe('v2');
    expect((await readdir(dir)).filter((name) => name.startsWith('.adapter.'))).toEqual([]);
  });

  it('keeps a sibling while this process is still writing it', async () => {
    const target = join(dir, 'slow.json');
    let seen: string[] = [];
    await writeDirectoryAtomic(join(dir, 'slow-dir'), async () => {
      // a concurrent write of another target must not touch this directory's temp
      seen = await removeStaleTempSiblings(join(dir, 'slow-dir'));
    });
    expect(seen).toEqual([]);
    await writeFileAtomic(target, 'x');
    expect(await readFile(target, 'utf8')).toBe('x');
  });

  it('a name with regular-expression characters only matches itself', async () => {
    await writeFile(join(dir, `.a+b.json.tmp-${deadPid}-22222222`), '');
    await writeFile(join(dir, `.aab.json.tmp-${deadPid}-33333333`), '');
    expect(await removeStaleTempSiblings(join(dir, 'a+b.json'))).toEqual([`.a+b.json.tmp-${deadPid}-22222222`]);
  });
});

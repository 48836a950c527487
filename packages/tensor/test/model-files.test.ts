import { mkdir, mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Llm2ClipError } from '@llm2clip/core';
import {
  MAX_INDEX_BYTES,
  MAX_INDEX_TENSORS,
  isPickleCheckpoint,
  parseSafetensorsIndex,
  pickleCheckpointError,
  pickleCheckpointsIn,
  readSafetensorsIndex,
  refusePickleFile,
  refusePickleOnlyDirectory,
  resolveShard,
} from '../src/index.js';

/** A real pickle header (protocol 2, an empty dict): nothing here may look inside it. */
const PICKLE = Uint8Array.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]);

const roots: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tensor-model-files-'));
  roots.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of roots) await rm(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>, code: string): Promise<Llm2ClipError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a rejection').toBeInstanceOf(Llm2ClipError);
  expect((error as Llm2ClipError).code).toBe(code);
  return error as Llm2ClipError;
}

function thrown(run: () => unknown, code: string): Llm2ClipError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(Llm2ClipError);
    expect((error as Llm2ClipError).code).toBe(code);
    return error as Llm2ClipError;
  }
  throw new Error('expected a typed error');
}

describe('pickle checkpoints are refused, never unpickled', () => {
  it('knows the pickle extensions, case-insensitively', () => {
    for (const name of ['pytorch_model.bin', 'open_clip_pytorch_model.bin', 'adapter_model.bin', 'x.pt', 'x.PTH', 'last.ckpt', 'a.pkl', 'a.pickle']) expect(isPickleCheckpoint(name)).toBe(true);
    for (const name of ['model.safetensors', 'model.gguf', 'config.json', 'bin', 'model.bin.safetensors']) expect(isPickleCheckpoint(name)).toBe(false);
  });

  it('the error names the file and gives the conversion command to the requested target', () => {
    const e = pickleCheckpointError('/m/open_clip_pytorch_model.bin', 'open_clip_model.safetensors');
    expect(e.code).toBe('E_FORMAT');
    expect(e.path).toBe('/m/open_clip_pytorch_model.bin');
    expect(e.message).toContain('never unpickled');
    expect(e.message).toContain("save_file(torch.load('open_clip_pytorch_model.bin', map_location='cpu', weights_only=True), 'open_clip_model.safetensors')");
    expect(e.message).toContain('save_pretrained(dir, safe_serialization=True)');
    expect(pickleCheckpointError('/m/pytorch_model.bin').message).toContain("'model.safetensors')");
    expect(thrown(() => refusePickleFile('/m/x.pt'), 'E_FORMAT').path).toBe('/m/x.pt');
    expect(() => refusePickleFile('/m/model.safetensors')).not.toThrow();
  });

  it('finds pickle checkpoints in a directory without reading them, preferring the named one', async () => {
    const dir = await tempDir();
    expect(await pickleCheckpointsIn(join(dir, 'absent'))).toEqual([]);
    await expect(refusePickleOnlyDirectory(dir)).resolves.toBeUndefined();
    await writeFile(join(dir, 'config.json'), '{}');
    await writeFile(join(dir, 'training_args.bin'), PICKLE);
    await writeFile(join(dir, 'adapter_model.bin'), PICKLE);
    expect(await pickleCheckpointsIn(dir)).toEqual(['adapter_model.bin', 'training_args.bin']);
    let e = await rejection(refusePickleOnlyDirectory(dir, 'adapter_model.safetensors', ['adapter_model.bin']), 'E_FORMAT');
    expect(e.path).toBe(join(dir, 'adapter_model.bin'));
    expect(e.message).toContain("'adapter_model.safetensors')");
    await rm(join(dir, 'adapter_model.bin'));
    e = await rejection(refusePickleOnlyDirectory(dir, undefined, ['adapter_model.bin']), 'E_FORMAT');
    expect(e.path).toBe(join(dir, 'training_args.bin'));
    // not a pickle-only directory when any safetensors file is there (open_clip ships both kinds)
    await writeFile(join(dir, 'open_clip_model.safetensors'), 'x');
    await expect(refusePickleOnlyDirectory(dir)).resolves.toBeUndefined();
  });
});

describe('model.safetensors.index.json', () => {
  const map = { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors', 'c.weight': 'model-00001-of-00002.safetensors' };

  it('parses the layout transformers writes: tensor → shard map, shards in first-use order', () => {
    const index = parseSafetensorsIndex({ metadata: { total_size: 1234 }, weight_map: map }, 'i.json');
    expect(index.shards).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(index.weightMap.get('b.weight')).toBe('model-00002-of-00002.safetensors');
    expect(parseSafetensorsIndex({ metadata: null, weight_map: map, extra: 1 }, 'i.json').weightMap.size).toBe(3);
  });

  it('refuses malformed indexes and shard names that are not plain safetensors files, naming the field', () => {
    const cases: Array<[unknown, RegExp, RegExp]> = [
      [null, /invalid safetensors index/, /^weight_map$/],
      [[], /invalid safetensors index/, /^weight_map$/],
      [{ weight_map: null }, /invalid safetensors index/, /^weight_map$/],
      [{ weight_map: [] }, /invalid safetensors index/, /^weight_map$/],
      [{ weight_map: { a: 7 } }, /invalid safetensors index/, /^weight_map\.a$/],
      [{ weight_map: {} }, /no tensors/, /^weight_map$/],
      [{ weight_map: map, metadata: { total_size: -1 } }, /invalid safetensors index/, /^metadata\.total_size$/],
      [{ weight_map: map, metadata: { total_size: 1.5 } }, /invalid safetensors index/, /^metadata\.total_size$/],
      [{ weight_map: map, metadata: 'x' }, /invalid safetensors index/, /^metadata$/],
      [{ weight_map: { ...map, x: 'weights.npz' } }, /not a .safetensors file/, /^weight_map\.x$/],
      [{ weight_map: { ...map, x: 'x'.repeat(2000) + '.safetensors' } }, /1 to 1024 characters/, /^weight_map\.x$/],
      [{ weight_map: { ...map, ['y'.repeat(2000)]: 'model-00001-of-00002.safetensors' } }, /tensor names/, /^weight_map$/],
    ];
    for (const name of ['/etc/passwd.safetensors', '../outside.safetensors', 'sub/../../outside.safetensors', '..\\outside.safetensors', '..', '.hidden.safetensors', 'a\0.safetensors', '']) {
      cases.push([{ weight_map: { ...map, x: name } }, /invalid safetensors index/, /^weight_map\.x$/]);
    }
    for (const [json, message, field] of cases) {
      const e = thrown(() => parseSafetensorsIndex(json, '/m/model.safetensors.index.json'), 'E_FORMAT');
      expect(e.message).toMatch(message);
      expect(e.field).toMatch(field);
      expect(e.path).toBe('/m/model.safetensors.index.json');
    }
    // a pickle shard gets the conversion message, naming the shard
    const e = thrown(() => parseSafetensorsIndex({ weight_map: { x: 'pytorch_model-00001-of-00002.bin' } }, '/m/model.safetensors.index.json'), 'E_FORMAT');
    expect(e.message).toMatch(/pickle/);
    expect(e.path).toBe('/m/pytorch_model-00001-of-00002.bin');
  });

  it('caps the tensor count', () => {
    // integer-like tensor names keep the test fast (V8 stores them as elements)
    const huge: Record<string, string> = {};
    for (let i = 0; i <= MAX_INDEX_TENSORS; i++) huge[i] = 's.safetensors';
    expect(thrown(() => parseSafetensorsIndex({ weight_map: huge }, 'i.json'), 'E_FORMAT').message).toMatch(/over the \d+ limit/);
  });

  it('reads from disk: E_IO when absent, E_FORMAT when not JSON or over the size cap (checked before reading)', async () => {
    const dir = await tempDir();
    const path = join(dir, 'model.safetensors.index.json');
    await rejection(readSafetensorsIndex(path), 'E_IO');
    await writeFile(path, '{"weight_map": ');
    expect((await rejection(readSafetensorsIndex(path), 'E_FORMAT')).message).toMatch(/JSON/);
    await writeFile(path, JSON.stringify({ weight_map: map }));
    expect((await readSafetensorsIndex(path)).shards).toHaveLength(2);
    const handle = await open(path, 'w');
    await handle.truncate(MAX_INDEX_BYTES + 1); // sparse: nothing is allocated by the test either
    await handle.close();
    expect((await rejection(readSafetensorsIndex(path), 'E_FORMAT')).message).toMatch(/limit/);
  });
});

describe('shard paths stay inside the model directory', () => {
  it('follows symlinks with realpath: inside is fine, outside is refused, missing is E_NOT_FOUND', async () => {
    const root = await tempDir();
    const dir = join(root, 'model');
    await mkdir(dir);
    await writeFile(join(dir, 'a.safetensors'), 'x');
    await writeFile(join(root, 'outside.safetensors'), 'x');
    expect(await resolveShard(dir, 'a.safetensors', 'i.json')).toBe(join(dir, 'a.safetensors'));
    await symlink('a.safetensors', join(dir, 'inner.safetensors'));
    expect(await resolveShard(dir, 'inner.safetensors', 'i.json')).toBe(join(dir, 'inner.safetensors'));
    await symlink(join(root, 'outside.safetensors'), join(dir, 'link.safetensors'));
    const e = await rejection(resolveShard(dir, 'link.safetensors', 'i.json'), 'E_FORMAT');
    expect(e.message).toMatch(/outside the model directory/);
    expect(e.path).toBe('i.json');
    // even when the model directory itself is reached through a symlink
    await symlink(dir, join(root, 'alias'));
    expect(await resolveShard(join(root, 'alias'), 'a.safetensors', 'i.json')).toBe(join(root, 'alias', 'a.safetensors'));
    await rejection(resolveShard(join(root, 'alias'), 'link.safetensors', 'i.json'), 'E_FORMAT');
    await rejection(resolveShard(dir, 'missing.safetensors', 'i.json'), 'E_NOT_FOUND');
    await symlink(join(root, 'nowhere'), join(dir, 'dangling.safetensors'));
    await rejection(resolveShard(dir, 'dangling.safetensors', 'i.json'), 'E_NOT_FOUND');
  });

  it('lets a hub-cache snapshot point into its own repository blobs/, and nowhere else', async () => {
    const root = await tempDir();
    const repo = join(root, 'models--org--tiny');
    const snapshot = join(repo, 'snapshots', 'abc123');
    await mkdir(join(repo, 'blobs'), { recursive: true });
    await mkdir(snapshot, { recursive: true });
    await writeFile(join(repo, 'blobs', 'etag1'), 'x');
    await symlink(join('..', '..', 'blobs', 'etag1'), join(snapshot, 'model.safetensors'));
    expect(await resolveShard(snapshot, 'model.safetensors', 'i.json')).toBe(join(snapshot, 'model.safetensors'));
    // another repository's blobs are outside
    const other = join(root, 'models--org--other', 'blobs');
    await mkdir(other, { recursive: true });
    await writeFile(join(other, 'etag2'), 'x');
    await symlink(join(other, 'etag2'), join(snapshot, 'foreign.safetensors'));
    await rejection(resolveShard(snapshot, 'foreign.safetensors', 'i.json'), 'E_FORMAT');
    // a directory that only looks like a snapshot (parent not models--*) gets no exception
    const fake = join(root, 'plain', 'snapshots', 'c1');
    await mkdir(fake, { recursive: true });
    await mkdir(join(root, 'plain', 'blobs'));
    await writeFile(join(root, 'plain', 'blobs', 'b'), 'x');
    await symlink(join(root, 'plain', 'blobs', 'b'), join(fake, 's.safetensors'));
    await rejection(resolveShard(fake, 's.safetensors', 'i.json'), 'E_FORMAT');
  });
});

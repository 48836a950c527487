import * as tf from '@tensorflow/tfjs-core';
import { mkdir, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Llm2ClipError, Rng, writeJsonAtomic } from '@llm2clip/core';
import { readSafetensors, writeSafetensors } from '@llm2clip/tensor';
import { ClipTextModel, ClipVisionModel, Eva02VisionModel, OPEN_CLIP_CONFIG, loadVisionTower, parseClipTextConfig, readCompanion, readModelWeights, parseClipVisionConfig, parseEva02VisionConfig } from '../src/index.js';
import { TOWER_CONFIG_LIMITS, clipTextParameterCount, clipVisionParameterCount } from '../src/config.js';
import { eva02ParameterCount } from '../src/eva-config.js';
import { MAX_CONFIG_BYTES } from '../src/model-files.js';
import { TINY_VISION, tempDir, useCpu } from './helpers.js';

beforeAll(useCpu);

const TINY_EVA = { image_size: 16, patch_size: 8, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, projection_dim: 16 } as const;
/** A real pickle header (protocol 2, an empty dict): the loaders must not look inside. */
const PICKLE = Uint8Array.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]);

async function typedError(promise: Promise<unknown>, code: string): Promise<Llm2ClipError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a rejection').toBeInstanceOf(Llm2ClipError);
  expect((error as Llm2ClipError).code).toBe(code);
  return error as Llm2ClipError;
}

function configError(run: () => unknown): Llm2ClipError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(Llm2ClipError);
    expect((error as Llm2ClipError).code).toBe('E_CONFIG');
    return error as Llm2ClipError;
  }
  throw new Error('expected E_CONFIG');
}

describe('pickle checkpoints are refused with the conversion command, never unpickled', () => {
  it('Hugging Face layout: config.json + pytorch_model.bin, and a directory holding only the .bin', async () => {
    const dir = await tempDir('pickle-hf');
    await writeFile(join(dir, 'pytorch_model.bin'), PICKLE);
    for (const load of [() => ClipVisionModel.fromPretrained(dir), () => Eva02VisionModel.fromPretrained(dir)]) {
      const e = await typedError(load(), 'E_FORMAT');
      expect(e.message).toMatch(/pickle/);
      expect(e.message).toContain("save_file(torch.load('pytorch_model.bin', map_location='cpu', weights_only=True), 'model.safetensors')");
      expect(e.path).toBe(join(dir, 'pytorch_model.bin'));
    }
    await writeJsonAtomic(join(dir, 'config.json'), { ...TINY_VISION });
    expect((await typedError(ClipVisionModel.fromPretrained(dir), 'E_FORMAT')).message).toMatch(/save_pretrained\(dir, safe_serialization=True\)/);
    await writeJsonAtomic(join(dir, 'config.json'), { architecture: 'eva02_base_patch16_clip_224' });
    expect((await typedError(Eva02VisionModel.fromPretrained(dir), 'E_FORMAT')).message).toMatch(/pickle/);
  });

  it('open_clip layout: open_clip_config.json + open_clip_pytorch_model.bin converts to open_clip_model.safetensors', async () => {
    const dir = await tempDir('pickle-oc');
    await writeFile(join(dir, 'open_clip_pytorch_model.bin'), PICKLE);
    await writeJsonAtomic(join(dir, OPEN_CLIP_CONFIG), { model_cfg: { embed_dim: 24, vision_cfg: { image_size: 16, layers: 2, width: 32, head_width: 8, patch_size: 8 }, text_cfg: {} } });
    let e = await typedError(ClipVisionModel.fromPretrained(dir), 'E_FORMAT');
    expect(e.message).toContain("'open_clip_model.safetensors')");
    const eva = { model_cfg: { embed_dim: 16, vision_cfg: { image_size: 16, layers: 2, width: 32, head_width: 8, patch_size: 8, eva_model_name: 'eva-clip-b-16', naiveswiglu: true, subln: true, rope: true, intp_freq: true, pt_hw_seq_len: 2 } } };
    await writeJsonAtomic(join(dir, OPEN_CLIP_CONFIG), eva);
    e = await typedError(Eva02VisionModel.fromPretrained(dir), 'E_FORMAT');
    expect(e.message).toContain("'open_clip_model.safetensors')");
    // the pickle file itself given as the tower path
    for (const load of [ClipVisionModel.fromPretrained, Eva02VisionModel.fromPretrained]) {
      expect((await typedError(load(join(dir, 'open_clip_pytorch_model.bin')), 'E_FORMAT')).message).toMatch(/pickle/);
    }
    // with nothing at all it stays E_NOT_FOUND
    await rm(join(dir, 'open_clip_pytorch_model.bin'));
    await typedError(Eva02VisionModel.fromPretrained(dir), 'E_NOT_FOUND');
  });
});

describe('config and companion files', () => {
  it('refuses an oversized config.json before reading it, and a pickle companion weights file by name', async () => {
    const dir = await tempDir('big-config');
    const handle = await open(join(dir, 'config.json'), 'w');
    await handle.truncate(MAX_CONFIG_BYTES + 1);
    await handle.close();
    expect((await typedError(ClipVisionModel.fromPretrained(dir), 'E_FORMAT')).message).toMatch(/limit/);
    await mkdir(join(dir, 'adapter'));
    await writeFile(join(dir, 'adapter', 'adapter.bin'), PICKLE);
    const e = await typedError(readCompanion(dir, 'adapter', { weightsFile: 'adapter.bin' }), 'E_FORMAT');
    expect(e.message).toMatch(/pickle/);
    expect(e.path).toBe(join(dir, 'adapter', 'adapter.bin'));
  });
});

/** Saves `model`, re-splits its `model.safetensors` into two shards, and returns the weight map (no index written yet). */
async function shardSaved<M extends { save(dir: string): Promise<unknown> }>(model: M, name: string): Promise<{ dir: string; weightMap: Record<string, string>; model: M }> {
  const dir = join(await tempDir(name), 'model');
  await model.save(dir);
  const all = (await readSafetensors(join(dir, 'model.safetensors'))).tensors;
  const names = [...all.keys()];
  const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const weightMap: Record<string, string> = {};
  const half = Math.ceil(names.length / 2);
  for (const [part, slice] of [names.slice(0, half), names.slice(half)].entries()) {
    await writeSafetensors(join(dir, files[part]), new Map(slice.map((n) => [n, all.get(n)!])));
    for (const n of slice) weightMap[n] = files[part];
  }
  await rm(join(dir, 'model.safetensors'));
  return { dir, weightMap, model };
}

/** Writes `model.safetensors.index.json` with `weightMap`. */
const writeIndex = (dir: string, weightMap: Record<string, string>) => writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 1 }, weight_map: weightMap }));

describe('sharded safetensors index of a tower', () => {
  const sharded = () => shardSaved(ClipVisionModel.create(TINY_VISION, new Rng(7)), 'index');
  it('loads a valid index, refuses shard names and symlinks that leave the directory and shards that disagree with it', async () => {
    const { dir, weightMap, model } = await sharded();
    await writeIndex(dir, weightMap);
    const loaded = await ClipVisionModel.fromPretrained(dir);
    expect(loaded.fingerprint()).toBe(model.fingerprint());
    loaded.dispose();
    const [first] = Object.keys(weightMap);
    await writeFile(join(dir, '..', 'outside.safetensors'), await readFile(join(dir, weightMap[first])));
    for (const name of ['../outside.safetensors', '/tmp/outside.safetensors', '..']) {
      await writeIndex(dir, { ...weightMap, [first]: name });
      expect((await typedError(ClipVisionModel.fromPretrained(dir), 'E_FORMAT')).field).toMatch(/^weight_map/);
    }
    await symlink(join(dir, '..', 'outside.safetensors'), join(dir, 'link.safetensors'));
    await writeIndex(dir, Object.fromEntries(Object.entries(weightMap).map(([k, v]) => [k, v === weightMap[first] ? 'link.safetensors' : v])));
    expect((await typedError(ClipVisionModel.fromPretrained(dir), 'E_FORMAT')).message).toMatch(/outside the model directory/);
    const other = Object.values(weightMap).find((f) => f !== weightMap[first])!;
    await writeIndex(dir, { ...weightMap, [first]: other });
    await typedError(ClipVisionModel.fromPretrained(dir), 'E_MISMATCH');
    await writeIndex(dir, { ...weightMap, 'not.there': weightMap[first] });
    await typedError(ClipVisionModel.fromPretrained(dir), 'E_NOT_FOUND');
    model.dispose();
  });
});

describe('tower config limits', () => {
  it('refuses absurd sizes naming the field', () => {
    const vision: Array<[Record<string, unknown>, string]> = [
      [{ hidden_size: 1e9 }, 'hidden_size'],
      [{ hidden_size: -32 }, 'hidden_size'],
      [{ num_hidden_layers: 1.5 }, 'num_hidden_layers'],
      [{ image_size: 8192, patch_size: 1 }, 'image_size'],
      [{ vision_config: { ...TINY_VISION, intermediate_size: 1e12 } }, 'intermediate_size'],
      // every field within its bound, the whole tower over 2^35 parameters
      [{ hidden_size: 1 << 14, intermediate_size: 1 << 16, num_hidden_layers: 256, num_attention_heads: 128 }, 'num_hidden_layers'],
    ];
    for (const [json, field] of vision) expect(configError(() => parseClipVisionConfig({ ...TINY_VISION, ...json }, 'config.json')).field, JSON.stringify(json)).toBe(field);
    // one matrix over 2^32 elements: vocab 2^20 × hidden 2^14
    expect(configError(() => parseClipTextConfig({ vocab_size: 1 << 20, hidden_size: 1 << 14, num_attention_heads: 128 })).field).toBe('vocab_size');
    expect(configError(() => parseClipTextConfig({ max_position_embeddings: 1e7 })).field).toBe('max_position_embeddings');
    expect(configError(() => parseEva02VisionConfig({ ...TINY_EVA, num_hidden_layers: 10_000 })).field).toBe('num_hidden_layers');
    expect(configError(() => parseEva02VisionConfig({ ...TINY_EVA, image_size: 8000, patch_size: 2 })).field).toBe('image_size');
    // EVA-CLIP-18B's vision tower fits
    expect(eva02ParameterCount(parseEva02VisionConfig({ image_size: 224, patch_size: 14, hidden_size: 5120, intermediate_size: 13824, num_hidden_layers: 48, num_attention_heads: 40, projection_dim: 1536 }))).toBeLessThan(TOWER_CONFIG_LIMITS.parameters);
  });

  it('counts parameters exactly as the towers allocate them', () => {
    const vision = ClipVisionModel.create(TINY_VISION, new Rng(1));
    expect(clipVisionParameterCount(vision.config)).toBe(vision.parameters.count());
    vision.dispose();
    const text = ClipTextModel.create({ vocab_size: 40, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 16, projection_dim: 24 }, new Rng(2));
    expect(clipTextParameterCount(text.config)).toBe(text.parameters.count());
    text.dispose();
    const eva = Eva02VisionModel.create(TINY_EVA, new Rng(3));
    expect(eva02ParameterCount(eva.config)).toBe(eva.parameters.count());
    eva.dispose();
  });

  it('refuses a config far bigger than its weights file before allocating the tower', async () => {
    const model = ClipVisionModel.create(TINY_VISION, new Rng(5));
    const dir = await tempDir('oversized');
    await model.save(dir);
    model.dispose();
    // within every limit (ViT-L sizes), next to a 2-layer 32-wide file
    await writeJsonAtomic(join(dir, 'config.json'), { ...TINY_VISION, hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16 });
    const before = tf.memory().numBytes;
    const e = await typedError(ClipVisionModel.fromPretrained(dir), 'E_MISMATCH');
    expect(e.message).toMatch(/describes \d+ weights but .* holds \d+/);
    expect(tf.memory().numBytes).toBe(before);
    const eva = Eva02VisionModel.create(TINY_EVA, new Rng(6));
    const evaDir = await tempDir('oversized-eva');
    await eva.save(evaDir);
    eva.dispose();
    const tensors = (await readSafetensors(join(evaDir, 'model.safetensors'))).tensors;
    tensors.delete('blocks.0.mlp.fc1_g.weight');
    tensors.delete('head.weight');
    expect(() => Eva02VisionModel.fromWeights({ ...TINY_EVA, hidden_size: 1024, num_attention_heads: 16, num_hidden_layers: 24, intermediate_size: 2730 }, tensors, { path: 'w.safetensors' })).toThrow(/describes \d+ weights/);
    expect(tf.memory().numBytes).toBe(before);
  });
});

describe('every vision loader goes through the checked reader', () => {
  const TINY_TEXT = { vocab_size: 40, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 16, projection_dim: 24 } as const;

  const shardedText = () => shardSaved(ClipTextModel.create(TINY_TEXT, new Rng(8)), 'text-index');
  it('readModelWeights and ClipTextModel.fromPretrained: sharded indexes validated and confined, pickle shards refused', async () => {
    const { dir, weightMap, model } = await shardedText();
    await writeIndex(dir, weightMap);
    const loaded = await ClipTextModel.fromPretrained(dir);
    expect(loaded.fingerprint()).toBe(model.fingerprint());
    loaded.dispose();
    expect((await readModelWeights(dir)).tensors.size).toBe(Object.keys(weightMap).length);
    const [first] = Object.keys(weightMap);
    await writeFile(join(dir, '..', 'outside.safetensors'), await readFile(join(dir, weightMap[first])));
    await writeIndex(dir, { ...weightMap, [first]: '../outside.safetensors' });
    for (const load of [() => ClipTextModel.fromPretrained(dir), () => readModelWeights(dir)]) expect((await typedError(load(), 'E_FORMAT')).field).toMatch(/^weight_map/);
    await symlink(join(dir, '..', 'outside.safetensors'), join(dir, 'link.safetensors'));
    await writeIndex(dir, { ...weightMap, [first]: 'link.safetensors' });
    for (const load of [() => ClipTextModel.fromPretrained(dir), () => readModelWeights(dir)]) expect((await typedError(load(), 'E_FORMAT')).message).toMatch(/outside the model directory/);
    await writeIndex(dir, { ...weightMap, [first]: 'pytorch_model-00001-of-00002.bin' });
    expect((await typedError(ClipTextModel.fromPretrained(dir), 'E_FORMAT')).message).toMatch(/pickle/);
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: null }));
    await typedError(readModelWeights(dir), 'E_FORMAT');
    model.dispose();
  });

  it('ClipTextModel.fromPretrained and readModelWeights on pickle weights: the conversion message', async () => {
    const dir = await tempDir('text-pickle');
    await writeFile(join(dir, 'pytorch_model.bin'), PICKLE);
    for (const load of [() => ClipTextModel.fromPretrained(dir), () => readModelWeights(dir), () => ClipTextModel.fromPretrained(join(dir, 'pytorch_model.bin'))]) {
      const e = await typedError(load(), 'E_FORMAT');
      expect(e.path).toBe(join(dir, 'pytorch_model.bin'));
      expect(e.message).toContain("'model.safetensors')");
    }
    await writeJsonAtomic(join(dir, 'config.json'), { ...TINY_TEXT });
    expect((await typedError(ClipTextModel.fromPretrained(dir), 'E_FORMAT')).message).toMatch(/pickle/);
    const oc = await tempDir('text-pickle-oc');
    await writeFile(join(oc, 'open_clip_pytorch_model.bin'), PICKLE);
    await writeJsonAtomic(join(oc, OPEN_CLIP_CONFIG), { model_cfg: { embed_dim: 24, vision_cfg: { image_size: 16, layers: 2, width: 32, head_width: 8, patch_size: 8 }, text_cfg: { context_length: 16, vocab_size: 40, width: 32, heads: 4, layers: 2 } } });
    expect((await typedError(ClipTextModel.fromPretrained(oc), 'E_FORMAT')).message).toContain("'open_clip_model.safetensors')");
    // open_clip repositories ship both kinds: with the safetensors file there, readModelWeights
    // (no Hugging Face weights) stays E_NOT_FOUND so callers can fall back to the open_clip file
    await writeFile(join(oc, 'open_clip_model.safetensors'), 'x');
    await typedError(readModelWeights(oc), 'E_NOT_FOUND');
    await rm(join(oc, 'open_clip_model.safetensors'));
    await rm(join(oc, 'open_clip_pytorch_model.bin'));
    await typedError(ClipTextModel.fromPretrained(oc), 'E_NOT_FOUND');
    // an oversized config is refused before it is read
    const big = await tempDir('text-big-config');
    const handle = await open(join(big, 'config.json'), 'w');
    await handle.truncate(MAX_CONFIG_BYTES + 1);
    await handle.close();
    expect((await typedError(ClipTextModel.fromPretrained(big), 'E_FORMAT')).message).toMatch(/limit/);
  });

  it('loadVisionTower on a directory of pickle weights and no config: the conversion message for its layout', async () => {
    const hf = await tempDir('tower-pickle-hf');
    await writeFile(join(hf, 'pytorch_model.bin'), PICKLE);
    let e = await typedError(loadVisionTower(hf), 'E_FORMAT');
    expect(e.path).toBe(join(hf, 'pytorch_model.bin'));
    expect(e.message).toContain("'model.safetensors')");
    const oc = await tempDir('tower-pickle-oc');
    await writeFile(join(oc, 'open_clip_pytorch_model.bin'), PICKLE);
    e = await typedError(loadVisionTower(oc), 'E_FORMAT');
    expect(e.path).toBe(join(oc, 'open_clip_pytorch_model.bin'));
    expect(e.message).toContain("'open_clip_model.safetensors')");
    e = await typedError(loadVisionTower(join(oc, 'open_clip_pytorch_model.bin')), 'E_FORMAT');
    expect(e.message).toMatch(/pickle/);
    await rm(join(oc, 'open_clip_pytorch_model.bin'));
    await typedError(loadVisionTower(oc), 'E_NOT_FOUND');
  });
});

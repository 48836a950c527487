import { mkdir, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import { readSafetensors, writeSafetensors } from '@llm2clip/tensor';
import { GGUF_VALUE_TYPE, GgufFile, LlamaModel, SafetensorsSource, ggufTokenizerJson, parseLlamaConfig, readLlamaConfig, sentencePieceMerges, writeGguf } from '../src/index.js';
import { GGUF_LIMITS } from '../src/gguf.js';
import { LLM_CONFIG_LIMITS, MAX_CONFIG_BYTES, llamaParameterCount } from '../src/config.js';
import { MAX_TOKEN_ID, validateTokenizerJson } from '../src/tokenizer-validation.js';
import { gunzipSync } from 'node:zlib';
import { ensureLlama3Fixture } from './llama3-fixture.js';
import { syncError, tempDir, tinyConfig, tinyTokenizerJson, typedError } from './fixtures.js';

/** GGUF bytes laid out by hand (little-endian), to put any value in any field. */
class Gguf {
  private parts: number[] = [];
  u32(v: number): this {
    for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 0xff);
    return this;
  }
  u64(v: bigint | number): this {
    let x = BigInt(v);
    for (let i = 0; i < 8; i++) {
      this.parts.push(Number(x & 0xffn));
      x >>= 8n;
    }
    return this;
  }
  str(s: string): this {
    const bytes = new TextEncoder().encode(s);
    this.u64(bytes.length);
    this.parts.push(...bytes);
    return this;
  }
  header(tensors: number | bigint, kvs: number | bigint, version = 3): this {
    return this.u32(0x46554747).u32(version).u64(tensors).u64(kvs);
  }
  pad(n: number): this {
    for (let i = 0; i < n; i++) this.parts.push(0);
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

describe('GGUF reader limits', () => {
  const write = async (name: string, bytes: Uint8Array): Promise<string> => {
    const dir = await tempDir('llm-gguf-hard-');
    const path = join(dir, name);
    await writeFile(path, bytes);
    return path;
  };

  it('checks the version and the counts against the file size before allocating', async () => {
    let e = await typedError(GgufFile.open(await write('v.gguf', new Gguf().header(0, 0, 4).pad(64).bytes())), 'E_FORMAT');
    expect(e.field).toBe('version');
    e = await typedError(GgufFile.open(await write('t.gguf', new Gguf().header(1n << 52n, 0).pad(64).bytes())), 'E_FORMAT');
    expect(e.field).toBe('tensor count');
    e = await typedError(GgufFile.open(await write('k.gguf', new Gguf().header(0, 0xffffffffffffffffn).pad(64).bytes())), 'E_FORMAT');
    expect(e.message).toMatch(/out of range/);
    e = await typedError(GgufFile.open(await write('k2.gguf', new Gguf().header(0, 1000).pad(64).bytes())), 'E_FORMAT');
    expect(e.field).toBe('metadata count');
  });

  it('bounds string and array lengths by the file and by the limits, naming the key', async () => {
    // a key whose length runs past the end of the file
    let e = await typedError(GgufFile.open(await write('s.gguf', new Gguf().header(0, 1).u64(1n << 40n).pad(16).bytes())), 'E_FORMAT');
    expect(e.message).toMatch(/exceeds the file/);
    // an array that claims more elements than the file holds
    const array = new Gguf().header(0, 1).str('tokenizer.ggml.tokens').u32(GGUF_VALUE_TYPE.ARRAY).u32(GGUF_VALUE_TYPE.STRING).u64(1n << 40n).pad(32).bytes();
    e = await typedError(GgufFile.open(await write('a.gguf', array)), 'E_FORMAT');
    expect(e.field).toBe('tokenizer.ggml.tokens');
    // an array of u8 within a (sparse) file but over the element limit
    const big = new Gguf().header(0, 1).str('big').u32(GGUF_VALUE_TYPE.ARRAY).u32(GGUF_VALUE_TYPE.UINT8).u64(GGUF_LIMITS.arrayElements + 1).bytes();
    const path = await write('big.gguf', big);
    const handle = await open(path, 'r+');
    await handle.truncate(big.length + GGUF_LIMITS.arrayElements + 64);
    await handle.close();
    e = await typedError(GgufFile.open(path), 'E_FORMAT');
    expect(e.field).toBe('big');
    expect(e.message).toMatch(/limit/);
    // a string value over the string limit, in a file large enough to hold it
    const long = new Gguf().header(0, 1).str('general.name').u32(GGUF_VALUE_TYPE.STRING).u64(GGUF_LIMITS.stringBytes + 1).bytes();
    const longPath = await write('long.gguf', long);
    const h2 = await open(longPath, 'r+');
    await h2.truncate(long.length + GGUF_LIMITS.stringBytes + 64);
    await h2.close();
    e = await typedError(GgufFile.open(longPath), 'E_FORMAT');
    expect(e.field).toBe('general.name');
    // nested arrays, unknown types, a bool that is neither 0 nor 1, a key twice
    e = await typedError(GgufFile.open(await write('n.gguf', new Gguf().header(0, 1).str('x').u32(GGUF_VALUE_TYPE.ARRAY).u32(GGUF_VALUE_TYPE.ARRAY).u64(0).pad(32).bytes())), 'E_FORMAT');
    expect(e.field).toBe('x');
    e = await typedError(GgufFile.open(await write('u.gguf', new Gguf().header(0, 1).str('x').u32(99).pad(32).bytes())), 'E_FORMAT');
    expect(e.field).toBe('x');
    const twice = new Gguf().header(0, 2).str('x').u32(GGUF_VALUE_TYPE.UINT32).u32(1).str('x').u32(GGUF_VALUE_TYPE.UINT32).u32(2).pad(32).bytes();
    e = await typedError(GgufFile.open(await write('d.gguf', twice)), 'E_FORMAT');
    expect(e.message).toMatch(/twice/);
  });

  it('bounds tensor dimensions and offsets by the data section, without overflow, aligned and not overlapping', async () => {
    const tensor = (g: Gguf, name: string, dims: Array<number | bigint>, type: number, offset: number | bigint): Gguf => {
      g.str(name).u32(dims.length);
      for (const d of dims) g.u64(d);
      return g.u32(type).u64(offset);
    };
    const file = (build: (g: Gguf) => Gguf, tensors: number, data: number): Uint8Array => {
      const g = build(new Gguf().header(tensors, 0));
      const head = g.bytes().length;
      return g.pad((32 - (head % 32)) % 32 + data).bytes();
    };
    // five dimensions
    let e = await typedError(GgufFile.open(await write('dims.gguf', file((g) => tensor(g, 'w', [1, 1, 1, 1, 1], 0, 0), 1, 32))), 'E_FORMAT');
    expect(e.field).toBe('w');
    // dimensions whose product passes 2^53 (and 2^32 elements)
    e = await typedError(GgufFile.open(await write('ovf.gguf', file((g) => tensor(g, 'w', [2 ** 30, 2 ** 30, 2 ** 30], 0, 0), 1, 32))), 'E_FORMAT');
    expect(e.field).toBe('w');
    // a dimension past 2^53
    e = await typedError(GgufFile.open(await write('big.gguf', file((g) => tensor(g, 'w', [1n << 60n], 0, 0), 1, 32))), 'E_FORMAT');
    expect(e.message).toMatch(/out of range/);
    // data past the end of the file; an offset near 2^53 (no wrap-around); misaligned; overlapping
    e = await typedError(GgufFile.open(await write('end.gguf', file((g) => tensor(g, 'w', [16], 0, 0), 1, 32))), 'E_FORMAT');
    expect(e.field).toBe('w');
    e = await typedError(GgufFile.open(await write('off.gguf', file((g) => tensor(g, 'w', [4], 0, 2 ** 53 - 32), 1, 32))), 'E_FORMAT');
    expect(e.field).toBe('w');
    e = await typedError(GgufFile.open(await write('align.gguf', file((g) => tensor(g, 'w', [4], 0, 4), 1, 64))), 'E_FORMAT');
    expect(e.message).toMatch(/aligned/);
    e = await typedError(GgufFile.open(await write('overlap.gguf', file((g) => tensor(tensor(g, 'a', [16], 0, 0), 'b', [16], 0, 32), 2, 128))), 'E_FORMAT');
    expect(e.field).toBe('b');
    expect(e.message).toMatch(/overlaps/);
    // the same layout without the overlap is read
    const ok = await GgufFile.open(await write('ok.gguf', file((g) => tensor(tensor(g, 'a', [16], 0, 0), 'b', [16], 0, 64), 2, 128)));
    expect((await ok.read('b')).length).toBe(16);
    await ok.close();
  });

  it('reads a file written by writeGguf and refuses one that is a PyTorch checkpoint, with the conversion command', async () => {
    const dir = await tempDir('llm-gguf-hard-');
    const path = join(dir, 'ok.gguf');
    await writeGguf(path, [{ key: 'general.architecture', type: GGUF_VALUE_TYPE.STRING, value: 'llama' }], [{ name: 'w', dims: [32, 2], type: 'Q8_0', values: new Rng(1).normalArray(64) }]);
    const file = await GgufFile.open(path);
    expect(file.tensor('w').byteLength).toBe(68);
    await file.close();
    // torch.save writes a zip archive (PK\x03\x04); older ones a bare pickle (\x80\x02)
    for (const magic of [[0x50, 0x4b, 0x03, 0x04], [0x80, 0x02, 0x8a, 0x0a]]) {
      const e = await typedError(GgufFile.open(await write('model.gguf', Uint8Array.from([...magic, ...new Array<number>(60).fill(0)]))), 'E_FORMAT');
      expect(e.message).toMatch(/pickle/);
      expect(e.message).toMatch(/save_file/);
    }
  });
});

describe('GGUF tokenizer metadata', () => {
  it('keeps a token spelled "__proto__" (the vocabulary object has no prototype)', async () => {
    const dir = await tempDir('llm-gguf-proto-');
    const path = join(dir, 'tok.gguf');
    await writeGguf(path, [
      { key: 'tokenizer.ggml.model', type: GGUF_VALUE_TYPE.STRING, value: 'gpt2' },
      { key: 'tokenizer.ggml.tokens', type: GGUF_VALUE_TYPE.ARRAY, arrayType: GGUF_VALUE_TYPE.STRING, value: ['__proto__', 'constructor', 'b'] },
      { key: 'tokenizer.ggml.merges', type: GGUF_VALUE_TYPE.ARRAY, arrayType: GGUF_VALUE_TYPE.STRING, value: [] },
    ], []);
    const file = await GgufFile.open(path);
    const vocab = (ggufTokenizerJson(file).tokenizer.model as { vocab: Record<string, number> }).vocab;
    expect(Object.entries(vocab)).toEqual([['__proto__', 0], ['constructor', 1], ['b', 2]]);
    await file.close();
  });

  it('refuses SentencePiece pieces too long to derive merges from, instead of hanging', () => {
    const long = 'x'.repeat(20_000);
    const e = syncError(() => sentencePieceMerges([long, 'x'], [0, 0], 'model.gguf'), 'E_FORMAT');
    expect(e.field).toBe('tokenizer.ggml.tokens');
    expect(sentencePieceMerges(['▁a', '▁', 'a', 'ab', 'b'], [-1, -2, -3, -4, -5])).toEqual(['▁ a', 'a b']);
  });
});

describe('sharded safetensors index', () => {
  /** A saved tiny model re-split into two shards with an index; returns the directory and the weight map. */
  async function shardedModel(): Promise<{ dir: string; weightMap: Record<string, string>; model: LlamaModel }> {
    const model = LlamaModel.create(tinyConfig(), new Rng(5));
    const root = await tempDir('llm-index-');
    const dir = join(root, 'model');
    await model.save(dir);
    const all = (await readSafetensors(join(dir, 'model.safetensors'))).tensors;
    const names = [...all.keys()];
    const half = Math.ceil(names.length / 2);
    const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const weightMap: Record<string, string> = {};
    for (const [part, slice] of [names.slice(0, half), names.slice(half)].entries()) {
      await writeSafetensors(join(dir, files[part]), new Map(slice.map((n) => [n, all.get(n)!])));
      for (const n of slice) weightMap[n] = files[part];
    }
    await rm(join(dir, 'model.safetensors'));
    return { dir, weightMap, model };
  }
  const writeIndex = (dir: string, index: unknown) => writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));

  it('refuses shard names that leave the model directory: absolute, "..", separators, symlinks resolving outside', async () => {
    const { dir, weightMap, model } = await shardedModel();
    const [first] = Object.keys(weightMap);
    const original = weightMap[first];
    // the outside file is a valid shard: only the confinement check stops it
    await writeFile(join(dir, '..', 'outside.safetensors'), await readFile(join(dir, original)));
    for (const name of ['/etc/passwd', '../outside.safetensors']) {
      await writeIndex(dir, { weight_map: { ...weightMap, [first]: name } });
      const e = await typedError(SafetensorsSource.openDirectory(dir), 'E_FORMAT');
      expect(e.field).toMatch(/^weight_map/);
    }
    await symlink(join(dir, '..', 'outside.safetensors'), join(dir, 'link.safetensors'));
    await writeIndex(dir, { weight_map: Object.fromEntries(Object.entries(weightMap).map(([k, v]) => [k, v === original ? 'link.safetensors' : v])) });
    const e = await typedError(SafetensorsSource.openDirectory(dir), 'E_FORMAT');
    expect(e.message).toMatch(/outside the model directory/);
    // a symlink that stays inside the directory is fine
    await rm(join(dir, 'link.safetensors'));
    await symlink(original, join(dir, 'link.safetensors'));
    const loaded = await LlamaModel.fromPretrained(dir);
    expect(loaded.fingerprint()).toBe(model.fingerprint());
    loaded.dispose();
    model.dispose();
  });

  it('follows hub-cache symlinks from snapshots/<commit>/ into the repository blobs/', async () => {
    const { dir, weightMap, model } = await shardedModel();
    const repo = join(dir, '..', 'models--org--tiny');
    const snapshot = join(repo, 'snapshots', 'abc123');
    await mkdir(join(repo, 'blobs'), { recursive: true });
    await mkdir(snapshot, { recursive: true });
    for (const file of [...new Set(Object.values(weightMap)), 'config.json']) {
      await writeFile(join(repo, 'blobs', `etag-${file}`), await readFile(join(dir, file)));
      await symlink(join('..', '..', 'blobs', `etag-${file}`), join(snapshot, file));
    }
    await writeIndex(snapshot, { metadata: { total_size: 1 }, weight_map: weightMap });
    const loaded = await LlamaModel.fromPretrained(snapshot);
    expect(loaded.fingerprint()).toBe(model.fingerprint());
    loaded.dispose();
    model.dispose();
  });

  it('validates the index by schema and against the shards, naming the field', async () => {
    const { dir, weightMap, model } = await shardedModel();
    model.dispose();
    // the index rules themselves are tested once in @llm2clip/tensor (test/model-files.test.ts); here, that the loader applies them
    const cases: Array<[unknown, string, RegExp]> = [
      [{ weight_map: null }, 'E_FORMAT', /invalid safetensors index/],
      [{ weight_map: {} }, 'E_FORMAT', /no tensors/],
      [{ weight_map: { ...weightMap, x: 'pytorch_model-00001-of-00002.bin' } }, 'E_FORMAT', /pickle/],
      [{ weight_map: { ...weightMap, x: 'model-00009-of-00009.safetensors' } }, 'E_NOT_FOUND', /does not exist/],
      [{ weight_map: { ...weightMap, 'not.in.any.shard': 'model-00001-of-00002.safetensors' } }, 'E_NOT_FOUND', /absent from its shard/],
    ];
    for (const [index, code, message] of cases) {
      await writeIndex(dir, index);
      const e = await typedError(SafetensorsSource.openDirectory(dir), code);
      expect(e.message).toMatch(message);
      expect(e.path).toBeDefined();
    }
    // one tensor of the first shard attributed to the second
    const [first, second] = [...new Set(Object.values(weightMap))];
    const name = Object.keys(weightMap).find((k) => weightMap[k] === first)!;
    await writeIndex(dir, { weight_map: { ...weightMap, [name]: second } });
    expect((await typedError(SafetensorsSource.openDirectory(dir), 'E_MISMATCH')).message).toMatch(/index says/);
    await writeFile(join(dir, 'model.safetensors.index.json'), '{"weight_map": ');
    await typedError(SafetensorsSource.openDirectory(dir), 'E_FORMAT');
  });
});

describe('pickle checkpoints are refused, never unpickled', () => {
  it('a model directory holding only pytorch_model.bin gets the conversion message, not "not found"', async () => {
    const dir = await tempDir('llm-pickle-');
    // a real pickle header (protocol 2) — the reader must not look inside
    await writeFile(join(dir, 'pytorch_model.bin'), Uint8Array.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]));
    let e = await typedError(SafetensorsSource.openDirectory(dir), 'E_FORMAT');
    expect(e.message).toMatch(/pickle/);
    // the whole loader too, although config.json is missing as well
    expect((await typedError(LlamaModel.fromPretrained(dir), 'E_FORMAT')).message).toMatch(/pickle/);
    expect(e.message).toContain("save_file(torch.load('pytorch_model.bin', map_location='cpu', weights_only=True), 'model.safetensors')");
    expect(e.message).toContain('save_pretrained(dir, safe_serialization=True)');
    expect(e.path).toBe(join(dir, 'pytorch_model.bin'));
    await writeFile(join(dir, 'config.json'), JSON.stringify(tinyConfig()));
    e = await typedError(LlamaModel.fromPretrained(dir), 'E_FORMAT');
    expect(e.message).toMatch(/pickle/);
    e = await typedError(SafetensorsSource.open(join(dir, 'pytorch_model.bin')), 'E_FORMAT');
    expect(e.message).toMatch(/safetensors/);
    // the pickle file itself given as the model path
    e = await typedError(LlamaModel.fromPretrained(join(dir, 'pytorch_model.bin')), 'E_FORMAT');
    expect(e.path).toBe(join(dir, 'pytorch_model.bin'));
    // with no weights at all it stays E_NOT_FOUND
    await rm(join(dir, 'pytorch_model.bin'));
    await typedError(SafetensorsSource.openDirectory(dir), 'E_NOT_FOUND');
  });
});

describe('config.json limits', () => {
  it('refuses absurd sizes, naming the field, before anything is allocated', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ vocab_size: 1e12 }, 'vocab_size'],
      [{ hidden_size: -32 }, 'hidden_size'],
      [{ hidden_size: 32.5 }, 'hidden_size'],
      [{ num_hidden_layers: 1e9 }, 'num_hidden_layers'],
      [{ intermediate_size: '64' }, 'intermediate_size'],
      [{ max_position_embeddings: 2 ** 40 }, 'max_position_embeddings'],
      [{ hidden_size: 30 }, 'hidden_size'],
      [{ num_key_value_heads: 3 }, 'num_key_value_heads'],
      [{ head_dim: 7 }, 'head_dim'],
      [{ bos_token_id: -1 }, 'bos_token_id'],
      // one matrix over 2^32 elements: vocab 2^22 × hidden 2^12
      [{ vocab_size: 1 << 22, hidden_size: 1 << 12, num_attention_heads: 32, num_key_value_heads: 8 }, 'vocab_size'],
      // every field within its bound, the whole over 2^40 parameters
      [{ hidden_size: 1 << 14, intermediate_size: 1 << 16, num_hidden_layers: 1024, num_attention_heads: 128, num_key_value_heads: 8 }, 'num_hidden_layers'],
    ];
    for (const [overrides, field] of cases) {
      const e = syncError(() => parseLlamaConfig({ ...tinyConfig(), ...overrides }, 'config.json'), 'E_CONFIG');
      expect(e.field, JSON.stringify(overrides)).toBe(field);
      expect(e.path).toBe('config.json');
    }
    // Llama 3.1 405B's real sizes pass
    const big = parseLlamaConfig({ ...tinyConfig(), vocab_size: 128256, hidden_size: 16384, intermediate_size: 53248, num_hidden_layers: 126, num_attention_heads: 128, num_key_value_heads: 8 });
    expect(llamaParameterCount(big)).toBeGreaterThan(4e11);
    expect(llamaParameterCount(big)).toBeLessThan(LLM_CONFIG_LIMITS.parameters);
  });

  it('counts parameters exactly as the model allocates them', () => {
    for (const overrides of [{}, { tie_word_embeddings: true }, { model_type: 'qwen2' as const, architectures: ['Qwen2ForCausalLM' as const] }, { attention_bias: true, mlp_bias: true }]) {
      const model = LlamaModel.create(tinyConfig(overrides), new Rng(1));
      expect(llamaParameterCount(model.config)).toBe(model.parameters.count());
      model.dispose();
    }
  });

  it('refuses an oversized config.json before reading it, and a config far bigger than its weights before allocating', async () => {
    const dir = await tempDir('llm-config-');
    const handle = await open(join(dir, 'config.json'), 'w');
    await handle.truncate(MAX_CONFIG_BYTES + 1);
    await handle.close();
    expect((await typedError(readLlamaConfig(join(dir, 'config.json')), 'E_FORMAT')).message).toMatch(/limit/);
    const model = LlamaModel.create(tinyConfig(), new Rng(2));
    await model.save(dir);
    model.dispose();
    // within every limit (1.3 billion parameters), but the weights on disk are a tiny model
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...tinyConfig(), vocab_size: 128256, hidden_size: 4096, intermediate_size: 14336, num_attention_heads: 32, num_key_value_heads: 8 }));
    const before = tf.memory().numBytes;
    const e = await typedError(LlamaModel.fromPretrained(dir), 'E_SHAPE');
    expect(e.message).toMatch(/expected shape \[128256,4096\]/);
    expect(tf.memory().numBytes).toBe(before);
  });
});

describe('tokenizer.json validation (before @huggingface/tokenizers sees it)', () => {
  it('refuses a token id that would make the library walk a 2^31-slot vocabulary (the tokenizer-json fuzz hang)', async () => {
    const reproducer = JSON.parse(await readFile(new URL('../../../tools/fuzz/regressions/tokenizer-json/timeout-vocab-id-2pow31', import.meta.url), 'utf8')) as unknown;
    const e = syncError(() => validateTokenizerJson(reproducer, 'tokenizer.json'), 'E_FORMAT');
    expect(e.field).toBe('model.vocab.<s>');
    const json = tinyTokenizerJson() as { model: { vocab: Record<string, number> }; added_tokens: Array<{ id: number }> };
    validateTokenizerJson(json, 'tokenizer.json');
    json.added_tokens[0].id = MAX_TOKEN_ID + 1;
    expect(syncError(() => validateTokenizerJson(json, 'tokenizer.json'), 'E_FORMAT').field).toBe('added_tokens.0.id');
    for (const bad of [null, [], { model: null }, { model: { vocab: { a: -1 } } }, { model: { vocab: { a: 1.5 } } }, { model: { vocab: {}, merges: [7] } }, { model: { vocab: [] } }, { model: { vocab: [['a', 0]], unk_id: 3 } }]) {
      syncError(() => validateTokenizerJson(bad, 'tokenizer.json'), 'E_FORMAT');
    }
    const regex = { model: { vocab: { a: 0 } }, pre_tokenizer: { type: 'Split', pattern: { Regex: 'x'.repeat(5000) } } };
    expect(syncError(() => validateTokenizerJson(regex, 'tokenizer.json'), 'E_FORMAT').field).toBe('pre_tokenizer.pattern.Regex');
  });

  it('accepts real tokenizer.json files: Llama 3 (byte-level BPE) and those rebuilt from GGUF', async () => {
    const llama3 = JSON.parse(gunzipSync(await readFile(join(await ensureLlama3Fixture(), 'tokenizer.json.gz'))).toString('utf8')) as unknown;
    validateTokenizerJson(llama3, 'tokenizer.json');
    const dir = await tempDir('llm-tok-valid-');
    const path = join(dir, 'tok.gguf');
    await writeGguf(path, [
      { key: 'tokenizer.ggml.model', type: GGUF_VALUE_TYPE.STRING, value: 'llama' },
      { key: 'tokenizer.ggml.tokens', type: GGUF_VALUE_TYPE.ARRAY, arrayType: GGUF_VALUE_TYPE.STRING, value: ['<unk>', '<s>', '</s>', '▁a'] },
      { key: 'tokenizer.ggml.scores', type: GGUF_VALUE_TYPE.ARRAY, arrayType: GGUF_VALUE_TYPE.FLOAT32, value: [0, 0, 0, -1] },
    ], []);
    const file = await GgufFile.open(path);
    validateTokenizerJson(ggufTokenizerJson(file).tokenizer, path);
    await file.close();
  });
});

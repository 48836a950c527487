import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import {
  GGUF_VALUE_TYPE,
  GgufFile,
  LlamaModel,
  LlmEmbedder,
  LlmTokenizer,
  dequantizeQ8_0,
  floatToHalf,
  ggufTokenizerJson,
  loadGgufModel,
  permuteRopeRows,
  quantizeQ8_0,
  writeGguf,
  writeGgufModel,
  type LlamaConfigInput,
} from '../src/index.js';
import { tempDir, tinyConfig, variedCaptions } from './fixtures.js';
import { ensureLlama3Fixture, LLAMA3_FIXTURE_DIR } from './llama3-fixture.js';

const LLAMA3 = LLAMA3_FIXTURE_DIR;

function logitsOf(model: LlamaModel): Float32Array {
  return tf.tidy(() => {
    const ids = tf.tensor2d([[1, 5, 6, 7, 8, 9], [2, 2, 1, 9, 10, 11]], undefined, 'int32');
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]], undefined, 'int32');
    return model.logits(model.forward(ids, mask)).dataSync() as Float32Array;
  });
}

function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/** convert_hf_to_gguf.py's permute, written as its numpy reshape/swapaxes with tfjs ops. */
function pythonPermute(values: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  return tf.tidy(() => {
    const w = tf.reshape(tf.tensor(values), [heads, 2, rows / heads / 2, cols]);
    return tf.reshape(tf.transpose(w, [0, 2, 1, 3]), [rows, cols]).dataSync() as Float32Array;
  });
}

async function llama3Tokenizer(): Promise<{ tokenizer: Record<string, unknown>; config: Record<string, unknown> }> {
  await ensureLlama3Fixture();
  return {
    tokenizer: JSON.parse(gunzipSync(await readFile(join(LLAMA3, 'tokenizer.json.gz'))).toString('utf8')) as Record<string, unknown>,
    config: JSON.parse(await readFile(join(LLAMA3, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>,
  };
}

describe('GGUF', () => {
  it("permutes q/k rows exactly as convert_hf_to_gguf.py and undoes it", () => {
    const rows = 16;
    const cols = 3;
    const values = Float32Array.from({ length: rows * cols }, (_, i) => i);
    for (const heads of [1, 2, 4]) {
      const permuted = permuteRopeRows(values, rows, cols, heads, false);
      expect(permuted).toEqual(pythonPermute(values, rows, cols, heads));
      expect(permuted).not.toEqual(values);
      expect(permuteRopeRows(permuted, rows, cols, heads, true)).toEqual(values);
    }
  });

  it('quantizes and dequantizes Q8_0 blocks as ggml (f16 scale amax/127, int8 round-half-away)', () => {
    const values = Float32Array.from({ length: 64 }, (_, i) => (i < 32 ? (i - 16) / 8 : i === 40 ? -127 : 0.5));
    const raw = quantizeQ8_0(values);
    expect(raw.length).toBe(2 * 34);
    const view = new DataView(raw.buffer);
    expect(view.getUint16(0, true)).toBe(floatToHalf(2 / 127));
    expect(view.getInt8(2)).toBe(-127);
    expect(view.getUint16(34, true)).toBe(floatToHalf(1));
    expect(view.getInt8(34 + 2 + 8)).toBe(-127);
    expect(view.getInt8(34 + 2)).toBe(1); // 0.5 rounds away from zero
    const back = new Float32Array(64);
    dequantizeQ8_0(raw, back);
    for (let i = 0; i < 32; i++) expect(Math.abs(back[i] - values[i])).toBeLessThan(2 / 127);
    expect(back[40]).toBe(-127);
    expect(back[33]).toBe(1);
  });

  it('loads an F32 GGUF (llama arch, permuted q/k) to the same logits as the safetensors model', async () => {
    const dir = await tempDir();
    const model = LlamaModel.create(tinyConfig({ rope_scaling: { type: 'linear', factor: 2 } }), new Rng(11), { initStd: 0.2 });
    await model.save(dir);
    const fromSafetensors = await LlamaModel.fromPretrained(dir);
    await writeGgufModel(model, join(dir, 'model-f32.gguf'), { type: 'F32' });
    const file = await GgufFile.open(join(dir, 'model-f32.gguf'));
    expect(file.header.version).toBe(3);
    expect(file.get('general.architecture')).toBe('llama');
    expect(file.tensor('blk.0.attn_q.weight').dims).toEqual([32, 32]);
    // the stored q rows are permuted: they differ from the HF rows
    expect(await file.read('blk.0.attn_q.weight')).not.toEqual(model.parameters.get('model.layers.0.self_attn.q_proj.weight').dataSync());
    await file.close();
    const loaded = await LlamaModel.fromPretrained(join(dir, 'model-f32.gguf'));
    expect(loaded.config.rope_scaling).toEqual({ type: 'linear', factor: 2 });
    expect(loaded.config.num_key_value_heads).toBe(2);
    expect(relativeError(logitsOf(loaded), logitsOf(fromSafetensors))).toBeLessThan(1e-6);
    for (const m of [model, fromSafetensors, loaded]) m.dispose();
  });

  it('loads F16 exactly as the F16 safetensors of the same weights, and Q8_0 within quantization error', async () => {
    const dir = await tempDir();
    const model = LlamaModel.create(tinyConfig(), new Rng(12), { initStd: 0.2 });
    await model.save(dir, { dtype: 'F16' });
    const f16Reference = await LlamaModel.fromPretrained(dir);
    await writeGgufModel(model, join(dir, 'model-f16.gguf'), { type: 'F16' });
    const f16 = await LlamaModel.fromPretrained(join(dir, 'model-f16.gguf'));
    expect(relativeError(logitsOf(f16), logitsOf(f16Reference))).toBeLessThan(1e-6);
    await writeGgufModel(model, join(dir, 'model-q8.gguf'), { type: 'Q8_0' });
    const q8 = await LlamaModel.fromPretrained(join(dir, 'model-q8.gguf'));
    // expected: every 2-D weight quantized and dequantized block by block (rows are whole blocks,
    // so llama.cpp's row permutation of q/k commutes with quantization); 1-D tensors stay F32
    const expectedWeights = new Map(model.parameters.entries().map(([name, v]) => {
      const values = v.dataSync() as Float32Array;
      if (v.shape.length === 1) return [name, { shape: v.shape, dtype: 'float32' as const, data: values }];
      const back = new Float32Array(values.length);
      dequantizeQ8_0(quantizeQ8_0(values), back);
      return [name, { shape: v.shape, dtype: 'float32' as const, data: back }];
    }));
    const q8Reference = LlamaModel.fromWeights(model.config, expectedWeights);
    expect(relativeError(logitsOf(q8), logitsOf(q8Reference))).toBeLessThan(1e-6);
    expect(relativeError(logitsOf(q8), logitsOf(model))).toBeGreaterThan(1e-4);
    for (const m of [model, f16Reference, f16, q8, q8Reference]) m.dispose();
  });

  it('loads a qwen2 GGUF (q/k/v biases, unpermuted) and applies llama.cpp rope_freqs factors', async () => {
    const dir = await tempDir();
    const qwen: LlamaConfigInput = { ...tinyConfig(), architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', tie_word_embeddings: true };
    const model = LlamaModel.create(qwen, new Rng(13), { initStd: 0.2 });
    for (const [name, v] of model.parameters.entries()) if (name.endsWith('.bias')) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 7));
    await writeGgufModel(model, join(dir, 'qwen.gguf'), { type: 'F32' });
    const loaded = await loadGgufModel(join(dir, 'qwen.gguf'));
    expect(loaded.config.model_type).toBe('qwen2');
    expect(loaded.config.tie_word_embeddings).toBe(true);
    expect(relativeError(logitsOf(loaded.model), logitsOf(model))).toBeLessThan(1e-6);
    loaded.model.dispose();
    model.dispose();

    // Llama 3 rope scaling reaches GGUF as a rope_freqs tensor (convert_hf_to_gguf.py's factors)
    const scaling = { rope_type: 'llama3' as const, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 };
    const llama3 = LlamaModel.create(tinyConfig({ rope_scaling: scaling }), new Rng(14), { initStd: 0.2 });
    const plain = LlamaModel.create(tinyConfig(), new Rng(14), { initStd: 0.2 });
    await writeGgufModel(plain, join(dir, 'plain.gguf'), { type: 'F32' });
    const headDim = 8;
    const factors = new Float32Array(headDim / 2);
    for (let i = 0; i < headDim / 2; i++) {
      const freq = 1 / 10000 ** ((2 * i) / headDim);
      const wavelen = (2 * Math.PI) / freq;
      if (wavelen < 16 / 4) factors[i] = 1;
      else if (wavelen > 16 / 1) factors[i] = 8;
      else {
        const smooth = (16 / wavelen - 1) / (4 - 1);
        factors[i] = 1 / ((1 - smooth) / 8 + smooth);
      }
    }
    const file = await GgufFile.open(join(dir, 'plain.gguf'));
    const tensors = await Promise.all(file.header.tensors.map(async (t) => ({ name: t.name, dims: t.dims, type: 'F32' as const, values: await file.read(t.name) })));
    const metadata = [...file.header.metadata.values()];
    await file.close();
    await writeGguf(join(dir, 'llama3.gguf'), metadata, [...tensors, { name: 'rope_freqs.weight', dims: [headDim / 2], type: 'F32', values: factors }]);
    const withFactors = await LlamaModel.fromPretrained(join(dir, 'llama3.gguf'));
    expect(relativeError(logitsOf(withFactors), logitsOf(llama3))).toBeLessThan(1e-5);
    expect(relativeError(logitsOf(plain), logitsOf(llama3))).toBeGreaterThan(1e-3);
    // the writer emits the same rope_freqs for a llama3-scaled model, aligned to 64 this time
    await writeGgufModel(llama3, join(dir, 'exported.gguf'), { type: 'F32' });
    const exportedFile = await GgufFile.open(join(dir, 'exported.gguf'));
    expect(await exportedFile.read('rope_freqs.weight')).toEqual(factors);
    const realigned = [...exportedFile.header.metadata.values()].map((kv) => (kv.key === 'general.alignment' ? { ...kv, value: 64 } : kv));
    const exportedTensors = await Promise.all(exportedFile.header.tensors.map(async (t) => ({ name: t.name, dims: t.dims, type: 'F32' as const, values: await exportedFile.read(t.name) })));
    await exportedFile.close();
    await writeGguf(join(dir, 'aligned64.gguf'), realigned, exportedTensors);
    const aligned = await GgufFile.open(join(dir, 'aligned64.gguf'));
    expect(aligned.header.alignment).toBe(64);
    expect(aligned.header.dataStart % 64).toBe(0);
    await aligned.close();
    const exported = await LlamaModel.fromPretrained(join(dir, 'aligned64.gguf'));
    expect(relativeError(logitsOf(exported), logitsOf(llama3))).toBeLessThan(1e-5);
    for (const m of [llama3, plain, withFactors, exported]) m.dispose();
  });

  it('rebuilds the Llama-3 tokenizer from GGUF metadata with identical ids, and embeds from a .gguf path', async () => {
    const dir = await tempDir();
    const { tokenizer, config } = await llama3Tokenizer();
    const model = LlamaModel.create(tinyConfig({ vocab_size: 128256, hidden_size: 16, intermediate_size: 32, num_attention_heads: 2, num_key_value_heads: 1, bos_token_id: 128000, eos_token_id: 128009, pad_token_id: undefined }), new Rng(15));
    await writeGgufModel(model, join(dir, 'tok.gguf'), { type: 'F16', tokenizer: { tokenizer, config } });
    // one load: the embedder rebuilds the tokenizer from GGUF metadata (Llama-3 template: auto)
    const embedder = await LlmEmbedder.fromPretrained(join(dir, 'tok.gguf'), { pooling: 'mean' });
    expect(embedder.tokenizer.chatTemplate).toBe('llama3');
    expect(embedder.describe().details).toMatchObject({ chatTemplate: 'llama3', pooling: 'mean', bidirectional: true });
    const reference = LlmTokenizer.fromJson(tokenizer, config, 'reference', { chatTemplate: 'llama3' });
    for (const text of ['A photo of a cat sitting on a mat.', 'Zwei Hunde 🐕🐕 im Schnee, 1234567!', "it's\tnot   what you'd think\n\n"]) {
      expect(embedder.tokenizer.tokenize(text).ids).toEqual(reference.tokenize(text).ids);
      expect(embedder.tokenizer.tokenize(['Find the caption:', text])).toEqual(reference.tokenize(['Find the caption:', text]));
    }
    expect(embedder.tokenizer.bosTokenId).toBe(128000);
    expect(embedder.tokenizer.padTokenId).toBe(128009);
    const vectors = await embedder.embed(['a dog', 'two cats on a sofa'], { batchSize: 2 });
    expect(vectors.rows).toBe(2);
    expect(vectors.dim).toBe(16);
    embedder.dispose();
    model.dispose();
  }, 60_000);

  it('refuses bad magic, unsupported versions and counts or offsets beyond the file', async () => {
    const dir = await tempDir();
    const model = LlamaModel.create(tinyConfig(), new Rng(16));
    const path = join(dir, 'm.gguf');
    await writeGgufModel(model, path, { type: 'F32' });
    model.dispose();
    const bytes = await readFile(path);
    const bad = async (mutate: (b: Buffer) => Buffer, pattern: RegExp) => {
      const target = join(dir, 'bad.gguf');
      await writeFile(target, mutate(Buffer.from(bytes)));
      await expect(GgufFile.open(target)).rejects.toThrow(pattern);
    };
    await bad((b) => (b.write('GGML', 0), b), /E_FORMAT.*magic/);
    await bad((b) => (b.writeUInt32LE(1, 4), b), /E_FORMAT.*version 1/);
    await bad((b) => (b.writeBigUInt64LE(2n ** 40n, 8), b), /E_FORMAT.*exceed/);
    await bad((b) => (b.writeBigUInt64LE(2n ** 40n, 16), b), /E_FORMAT.*exceed/);
    await bad((b) => b.subarray(0, b.length - 64), /E_FORMAT.*outside/);
    await bad((b) => b.subarray(0, 200), /E_FORMAT/);
    // an unknown architecture is a typed config error naming the key
    await writeGguf(join(dir, 'gpt2.gguf'), [{ key: 'general.architecture', type: GGUF_VALUE_TYPE.STRING, value: 'gpt2' }], []);
    await expect(LlamaModel.fromPretrained(join(dir, 'gpt2.gguf'))).rejects.toThrow(/E_CONFIG.*unsupported GGUF architecture "gpt2".*general\.architecture/);
  });
});

describe('GGUF SentencePiece tokenizer (tokenizer.ggml.model = llama)', () => {
  it('rebuilds the Llama-2 tokenizer from tokens + scores and matches llama-tokenizer-js on 300 captions', async () => {
    const { default: llamaTokenizer } = await import('llama-tokenizer-js');
    const tokens: string[] = llamaTokenizer.vocabById;
    expect(tokens.length).toBe(32000);
    const types = tokens.map((t, id) => (id === 0 ? 2 : id <= 2 ? 3 : /^<0x[0-9A-F]{2}>$/.test(t) ? 6 : 1));
    // tokenizer.model scores are monotone in merge order; recover them from the package's merges
    const firstRank = new Map<string, number>();
    for (const [pair, rank] of llamaTokenizer.merges as Map<string, number>) {
      const piece = pair.replace(' ', '');
      if (!firstRank.has(piece)) firstRank.set(piece, rank);
    }
    const scores = tokens.map((t, id) => (types[id] === 1 ? -(firstRank.get(t) ?? 1e9) : 0));
    const kv = (key: string, type: number, value: unknown, arrayType?: number) => ({ key, type, value, arrayType }) as Parameters<typeof writeGguf>[1][number];
    const dir = await tempDir();
    await writeGguf(join(dir, 'spm.gguf'), [
      kv('general.architecture', GGUF_VALUE_TYPE.STRING, 'llama'),
      kv('tokenizer.ggml.model', GGUF_VALUE_TYPE.STRING, 'llama'),
      kv('tokenizer.ggml.tokens', GGUF_VALUE_TYPE.ARRAY, tokens, GGUF_VALUE_TYPE.STRING),
      kv('tokenizer.ggml.scores', GGUF_VALUE_TYPE.ARRAY, scores, GGUF_VALUE_TYPE.FLOAT32),
      kv('tokenizer.ggml.token_type', GGUF_VALUE_TYPE.ARRAY, types, GGUF_VALUE_TYPE.INT32),
      kv('tokenizer.ggml.bos_token_id', GGUF_VALUE_TYPE.UINT32, 1),
      kv('tokenizer.ggml.eos_token_id', GGUF_VALUE_TYPE.UINT32, 2),
      kv('tokenizer.ggml.unknown_token_id', GGUF_VALUE_TYPE.UINT32, 0),
    ], []);
    const file = await GgufFile.open(join(dir, 'spm.gguf'));
    const { tokenizer: json, config } = ggufTokenizerJson(file);
    await file.close();
    expect((json.model as { merges: string[] }).merges.length).toBe((llamaTokenizer.merges as Map<string, number>).size);
    const tokenizer = LlmTokenizer.fromJson(json, config);
    expect(tokenizer.bosTokenId).toBe(1);
    expect(tokenizer.padTokenId).toBe(2);
    for (const text of variedCaptions(300).filter((t) => t.length > 0)) {
      expect(tokenizer.tokenize(text, { maxLength: 100_000 }).ids, JSON.stringify(text)).toEqual(llamaTokenizer.encode(text));
    }
    expect(tokenizer.decode(tokenizer.tokenize('Grüße aus 東京 🐕!').ids)).toBe('Grüße aus 東京 🐕!');
  }, 60_000);
});

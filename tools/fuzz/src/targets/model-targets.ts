import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Llm2ClipError, Rng } from '@llm2clip/core';
import {
  GGUF_VALUE_TYPE,
  GgufFile,
  GgufSource,
  LlamaConfigSchema,
  LlmTokenizer,
  SafetensorsSource,
  ggufConfig,
  ggufTokenizerJson,
  parseLlamaConfig,
  readLlamaConfig,
  writeGguf,
  type GgmlTypeName,
  type GgufKeyValue,
  type GgufTensorToWrite,
  type LlamaConfig,
} from '@llm2clip/llm';
import { serializeSafetensors, type HostTensor } from '@llm2clip/tensor';
import {
  TIMM_EVA02_ARCHITECTURES,
  evaClipVisionConfig,
  openClipModelConfig,
  openClipTextConfig,
  openClipVisionConfig,
  parseClipTextConfig,
  parseClipVisionConfig,
  parseEva02VisionConfig,
  timmEvaVisionConfig,
} from '@llm2clip/vision';
import type { FuzzTarget } from '../target.js';

// ---------------------------------------------------------------------------------------------
// GGUF
// ---------------------------------------------------------------------------------------------

/** Where one header field of a GGUF file sits, for the structure-aware mutator. */
interface GgufField {
  at: number;
  width: 4 | 8;
  /** Lengths and counts: the values worth setting to boundaries. */
  kind: 'count' | 'length' | 'type' | 'dims' | 'dim' | 'offset' | 'version';
}

const SCALAR_WIDTH: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/**
 * The integer fields of a GGUF header (version, counts, string and array lengths, value types,
 * tensor dimension counts, dimensions, types, offsets), found by walking it as the format
 * describes; stops quietly where the bytes stop making sense.
 */
export function ggufHeaderFields(input: Uint8Array): GgufField[] {
  const fields: GgufField[] = [];
  if (input.length < 24) return fields;
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  let at = 4;
  const u32 = (kind: GgufField['kind']): number | undefined => {
    if (at + 4 > input.length) return undefined;
    fields.push({ at, width: 4, kind });
    const v = view.getUint32(at, true);
    at += 4;
    return v;
  };
  const u64 = (kind: GgufField['kind']): number | undefined => {
    if (at + 8 > input.length) return undefined;
    fields.push({ at, width: 8, kind });
    const v = Number(view.getBigUint64(at, true));
    at += 8;
    return v;
  };
  const string = (): boolean => {
    const length = u64('length');
    if (length === undefined || at + length > input.length) return false;
    at += length;
    return true;
  };
  const value = (type: number): boolean => {
    if (type === GGUF_VALUE_TYPE.STRING) return string();
    const width = SCALAR_WIDTH[type];
    if (width === undefined || at + width > input.length) return false;
    at += width;
    return true;
  };
  u32('version');
  const tensors = u64('count');
  const kvs = u64('count');
  if (tensors === undefined || kvs === undefined) return fields;
  for (let i = 0; i < Math.min(kvs, 4096); i++) {
    if (!string()) return fields;
    const type = u32('type');
    if (type === undefined) return fields;
    if (type === GGUF_VALUE_TYPE.ARRAY) {
      const element = u32('type');
      const length = u64('length');
      if (element === undefined || length === undefined) return fields;
      for (let j = 0; j < Math.min(length, 1 << 16); j++) if (!value(element)) return fields;
    } else if (!value(type)) return fields;
  }
  for (let i = 0; i < Math.min(tensors, 4096); i++) {
    if (!string()) return fields;
    const dims = u32('dims');
    if (dims === undefined || dims > 8) return fields;
    for (let d = 0; d < dims; d++) if (u64('dim') === undefined) return fields;
    if (u32('type') === undefined || u64('offset') === undefined) return fields;
  }
  return fields;
}

const BOUNDARY_64 = [0n, 1n, 2n, 3n, 4n, 5n, 31n, 32n, 33n, 64n, 255n, 4096n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 1n << 40n, (1n << 53n) - 1n, 1n << 53n, (1n << 63n) - 1n, 1n << 63n, 0xffffffffffffffffn];
const BOUNDARY_32 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 30, 31, 32, 255, 0x7fffffff, 0x80000000, 0xffffffff];

/**
 * Structure-aware mutation of a GGUF file: one header integer (a count, a string or array
 * length, a value or tensor type, a dimension count, a dimension, an offset, the version) is set
 * to a boundary value or nudged by ±1…±64, so mutations reach the bound checks behind each field.
 */
export function mutateGgufHeader(input: Uint8Array, rng: Rng): Uint8Array | undefined {
  const fields = ggufHeaderFields(input);
  if (fields.length === 0) return undefined;
  const field = fields[rng.int(0, fields.length - 1)];
  const out = input.slice();
  const view = new DataView(out.buffer);
  const nudge = rng.bernoulli(0.4);
  if (field.width === 4) {
    const old = view.getUint32(field.at, true);
    const v = nudge ? (old + rng.int(-64, 64)) >>> 0 : BOUNDARY_32[rng.int(0, BOUNDARY_32.length - 1)];
    view.setUint32(field.at, v, true);
  } else {
    const old = view.getBigUint64(field.at, true);
    const v = nudge ? BigInt.asUintN(64, old + BigInt(rng.int(-64, 64))) : BOUNDARY_64[rng.int(0, BOUNDARY_64.length - 1)];
    view.setBigUint64(field.at, v, true);
  }
  return out;
}

const kv = (key: string, type: number, value: GgufKeyValue['value'], arrayType?: number): GgufKeyValue => (arrayType === undefined ? { key, type, value } : { key, type, value, arrayType });

/** Metadata of a tiny `arch` decoder as `writeGgufModel` lays it out. */
function decoderMetadata(arch: 'llama' | 'qwen2', hidden: number, heads: number, kvHeads: number): GgufKeyValue[] {
  return [
    kv('general.architecture', GGUF_VALUE_TYPE.STRING, arch),
    kv('general.name', GGUF_VALUE_TYPE.STRING, 'llm2clip-fuzz-seed'),
    kv('general.alignment', GGUF_VALUE_TYPE.UINT32, 32),
    kv(`${arch}.context_length`, GGUF_VALUE_TYPE.UINT32, 64),
    kv(`${arch}.embedding_length`, GGUF_VALUE_TYPE.UINT32, hidden),
    kv(`${arch}.block_count`, GGUF_VALUE_TYPE.UINT32, 1),
    kv(`${arch}.feed_forward_length`, GGUF_VALUE_TYPE.UINT32, 32),
    kv(`${arch}.attention.head_count`, GGUF_VALUE_TYPE.UINT32, heads),
    kv(`${arch}.attention.head_count_kv`, GGUF_VALUE_TYPE.UINT32, kvHeads),
    kv(`${arch}.rope.freq_base`, GGUF_VALUE_TYPE.FLOAT32, 10000),
    kv(`${arch}.attention.layer_norm_rms_epsilon`, GGUF_VALUE_TYPE.FLOAT32, 1e-5),
    kv(`${arch}.vocab_size`, GGUF_VALUE_TYPE.UINT32, 8),
    kv(`${arch}.rope.dimension_count`, GGUF_VALUE_TYPE.UINT32, hidden / heads),
    kv('general.file_type', GGUF_VALUE_TYPE.UINT32, 1),
  ];
}

/** Tensors of that decoder (ne innermost first), `type` for 2-D weights, F32 for norms. */
function decoderTensors(hidden: number, kvDim: number, type: GgmlTypeName, rng: Rng, qkvBias: boolean): GgufTensorToWrite[] {
  const t = (name: string, dims: number[], tensorType: GgmlTypeName = dims.length === 1 ? 'F32' : type): GgufTensorToWrite => ({
    name,
    dims,
    type: tensorType,
    values: rng.normalArray(dims.reduce((a, b) => a * b, 1), 0.5),
  });
  const out = [
    t('token_embd.weight', [hidden, 8]),
    t('blk.0.attn_norm.weight', [hidden]),
    t('blk.0.attn_q.weight', [hidden, hidden]),
    t('blk.0.attn_k.weight', [hidden, kvDim]),
    t('blk.0.attn_v.weight', [hidden, kvDim]),
    t('blk.0.attn_output.weight', [hidden, hidden]),
    t('blk.0.ffn_norm.weight', [hidden]),
    t('blk.0.ffn_gate.weight', [hidden, 32]),
    t('blk.0.ffn_up.weight', [hidden, 32]),
    t('blk.0.ffn_down.weight', [32, hidden]),
    t('output_norm.weight', [hidden]),
  ];
  if (qkvBias) out.push(t('blk.0.attn_q.bias', [hidden]), t('blk.0.attn_k.bias', [kvDim]), t('blk.0.attn_v.bias', [kvDim]));
  return out;
}

const BPE_TOKENS = ['a', 'b', 'c', 'ab', 'abc', 'Ġa', '<|begin_of_text|>', '<|end_of_text|>'];

function bpeTokenizer(pre: string): GgufKeyValue[] {
  return [
    kv('tokenizer.ggml.model', GGUF_VALUE_TYPE.STRING, 'gpt2'),
    kv('tokenizer.ggml.pre', GGUF_VALUE_TYPE.STRING, pre),
    kv('tokenizer.ggml.tokens', GGUF_VALUE_TYPE.ARRAY, BPE_TOKENS, GGUF_VALUE_TYPE.STRING),
    kv('tokenizer.ggml.token_type', GGUF_VALUE_TYPE.ARRAY, [1, 1, 1, 1, 1, 1, 3, 3], GGUF_VALUE_TYPE.INT32),
    kv('tokenizer.ggml.merges', GGUF_VALUE_TYPE.ARRAY, ['a b', 'ab c'], GGUF_VALUE_TYPE.STRING),
    kv('tokenizer.ggml.bos_token_id', GGUF_VALUE_TYPE.UINT32, 6),
    kv('tokenizer.ggml.eos_token_id', GGUF_VALUE_TYPE.UINT32, 7),
    kv('tokenizer.ggml.add_bos_token', GGUF_VALUE_TYPE.BOOL, true),
    kv('tokenizer.chat_template', GGUF_VALUE_TYPE.STRING, '{% for m in messages %}{{ m.content }}{% endfor %}'),
  ];
}

function sentencePieceTokenizer(): GgufKeyValue[] {
  return [
    kv('tokenizer.ggml.model', GGUF_VALUE_TYPE.STRING, 'llama'),
    kv('tokenizer.ggml.tokens', GGUF_VALUE_TYPE.ARRAY, ['<unk>', '<s>', '</s>', '▁', 'a', 'b', '▁a', '▁ab'], GGUF_VALUE_TYPE.STRING),
    kv('tokenizer.ggml.scores', GGUF_VALUE_TYPE.ARRAY, [0, 0, 0, -1, -2, -3, -4, -5], GGUF_VALUE_TYPE.FLOAT32),
    kv('tokenizer.ggml.token_type', GGUF_VALUE_TYPE.ARRAY, [2, 3, 3, 1, 1, 1, 1, 1], GGUF_VALUE_TYPE.INT32),
    kv('tokenizer.ggml.bos_token_id', GGUF_VALUE_TYPE.UINT32, 1),
    kv('tokenizer.ggml.eos_token_id', GGUF_VALUE_TYPE.UINT32, 2),
    kv('tokenizer.ggml.unknown_token_id', GGUF_VALUE_TYPE.UINT32, 0),
  ];
}

/** Valid GGUF files written by `writeGguf` (the writer behind `writeGgufModel`): tiny decoders in every supported tensor type, both tokenizer kinds. */
export async function ggufSeeds(): Promise<Uint8Array[]> {
  const dir = await mkdtemp(join(tmpdir(), 'llm2clip-fuzz-gguf-seed-'));
  try {
    const rng = new Rng(11);
    const files: Array<[GgufKeyValue[], GgufTensorToWrite[]]> = [
      [[...decoderMetadata('llama', 32, 4, 2), ...bpeTokenizer('llama-bpe')], decoderTensors(32, 16, 'F16', rng, false)],
      [[...decoderMetadata('llama', 32, 4, 4), ...sentencePieceTokenizer()], decoderTensors(32, 32, 'Q8_0', rng, false)],
      [[...decoderMetadata('qwen2', 32, 4, 2), ...bpeTokenizer('qwen2')], decoderTensors(32, 16, 'BF16', rng, true)],
      [decoderMetadata('llama', 32, 2, 2), decoderTensors(32, 32, 'F32', rng, false)],
      [[kv('general.architecture', GGUF_VALUE_TYPE.STRING, 'llama'), kv('general.alignment', GGUF_VALUE_TYPE.UINT32, 64)], [{ name: 'x', dims: [4, 2], type: 'F32', values: Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8) }]],
    ];
    const seeds: Uint8Array[] = [];
    for (const [i, [metadata, tensors]] of files.entries()) {
      const path = join(dir, `seed-${i}.gguf`);
      await writeGguf(path, metadata, tensors);
      seeds.push(new Uint8Array(await readFile(path)));
    }
    return seeds;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The GGUF reader, config mapping, tokenizer rebuild and HF-named weight source over one file. */
export const ggufTarget: FuzzTarget = {
  name: 'gguf',
  description: 'GgufFile.open + read of every tensor, ggufConfig, ggufTokenizerJson, GgufSource list/read',
  maxLength: 64 * 1024,
  dictionary: [
    'GGUF',
    'general.architecture',
    'general.alignment',
    'llama',
    'qwen2',
    'gpt2',
    'llama-bpe',
    'tokenizer.ggml.model',
    'tokenizer.ggml.tokens',
    'tokenizer.ggml.scores',
    'tokenizer.ggml.merges',
    'tokenizer.ggml.token_type',
    'tokenizer.ggml.bos_token_id',
    'llama.embedding_length',
    'llama.block_count',
    'llama.attention.head_count',
    'llama.attention.key_length',
    'llama.rope.scaling.type',
    'token_embd.weight',
    'rope_freqs.weight',
    'blk.0.attn_q.weight',
    'output.weight',
  ],
  structure: (input, rng) => mutateGgufHeader(input, rng),
  seeds: ggufSeeds,
  async run(input, dir) {
    const path = join(dir, 'model.gguf');
    await writeFile(path, input);
    const file = await GgufFile.open(path);
    try {
      for (const tensor of file.header.tensors) {
        if (tensor.typeName !== undefined) await file.read(tensor.name);
      }
      if (file.get('tokenizer.ggml.tokens') !== undefined) {
        const { tokenizer, config } = ggufTokenizerJson(file);
        LlmTokenizer.fromJson(tokenizer, config, path).encodeText('abc ab a');
      }
      const config = ggufConfig(file);
      const source = new GgufSource(file, config);
      for (const info of source.list()) {
        if (!/ggml type/.test(info.dtype)) await source.read(info.name);
      }
    } finally {
      await file.close();
    }
  },
};

// ---------------------------------------------------------------------------------------------
// Sharded safetensors index
// ---------------------------------------------------------------------------------------------

const SHARD_A: Record<string, HostTensor> = {
  'model.embed_tokens.weight': { shape: [2, 2], dtype: 'float32', data: Float32Array.of(1, 2, 3, 4) },
  'model.norm.weight': { shape: [2], dtype: 'float32', data: Float32Array.of(1, 1) },
};
const SHARD_B: Record<string, HostTensor> = {
  'lm_head.weight': { shape: [2, 2], dtype: 'float32', data: Float32Array.of(5, 6, 7, 8) },
};
/** A tensor only the file outside the model directory holds: loading it means an escape. */
const OUTSIDE_TENSOR = 'outside.secret';

/** The index `writeSafetensorsModel` writes for {@link SHARD_A} + {@link SHARD_B}. */
function validIndex(): Record<string, unknown> {
  return {
    metadata: { total_size: 40 },
    weight_map: {
      'lm_head.weight': 'model-00002-of-00002.safetensors',
      'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
      'model.norm.weight': 'model-00001-of-00002.safetensors',
    },
  };
}

/**
 * `SafetensorsSource.openIndex` over a fuzzed `model.safetensors.index.json` in a model
 * directory with two valid shards, a symlink `link.safetensors` pointing outside it and, outside
 * it, `outside.safetensors` (also reachable as `../outside.safetensors`). Besides typed errors
 * only, the target checks the invariant itself: a tensor of the outside file is never loaded.
 */
export const shardIndexTarget: FuzzTarget = {
  name: 'shard-index',
  description: 'SafetensorsSource.openIndex (index schema, shard names, realpath confinement, shard/index agreement)',
  maxLength: 8 * 1024,
  dictionary: [
    '"weight_map"',
    '"metadata"',
    '"total_size"',
    '"model-00001-of-00002.safetensors"',
    '"model-00002-of-00002.safetensors"',
    '"link.safetensors"',
    '"../outside.safetensors"',
    '"/etc/passwd"',
    '"..\\\\outside.safetensors"',
    '"pytorch_model.bin"',
    '"."',
    '".."',
    '"outside.secret"',
    '"lm_head.weight"',
    '"__proto__"',
    'null',
  ],
  structure: 'json',
  async seeds() {
    const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value, null, 2));
    const escaped = validIndex();
    (escaped.weight_map as Record<string, string>)['lm_head.weight'] = 'link.safetensors';
    return [encode(validIndex()), encode({ weight_map: { 'model.norm.weight': 'model-00001-of-00002.safetensors', 'model.embed_tokens.weight': 'model-00001-of-00002.safetensors' } }), encode(escaped)];
  },
  async run(input, workDir) {
    const dir = join(workDir, 'model');
    await mkdir(dir, { recursive: true });
    const outside = join(workDir, 'outside.safetensors');
    await writeFile(outside, serializeSafetensors({ [OUTSIDE_TENSOR]: { shape: [1], dtype: 'float32', data: Float32Array.of(42) } }));
    await writeFile(join(dir, 'model-00001-of-00002.safetensors'), serializeSafetensors(SHARD_A, { format: 'pt' }));
    await writeFile(join(dir, 'model-00002-of-00002.safetensors'), serializeSafetensors(SHARD_B, { format: 'pt' }));
    await rm(join(dir, 'link.safetensors'), { force: true });
    await symlink(join(dirname(dir), 'outside.safetensors'), join(dir, 'link.safetensors'));
    const indexPath = join(dir, 'model.safetensors.index.json');
    await writeFile(indexPath, input);
    const source = await SafetensorsSource.openIndex(indexPath, dir);
    try {
      for (const info of source.list()) {
        if (info.name === OUTSIDE_TENSOR) throw new Error(`escape: tensor ${OUTSIDE_TENSOR} from outside the model directory was loaded`);
        if (info.dtype === 'F32' || info.dtype === 'F16' || info.dtype === 'BF16' || info.dtype === 'F64') await source.read(info.name);
      }
    } finally {
      await source.close();
    }
  },
};

// ---------------------------------------------------------------------------------------------
// config.json (LLM, CLIP vision/text, EVA02 in its EVA-CLIP, timm and open_clip layouts)
// ---------------------------------------------------------------------------------------------

/** Parameters of every tensor `config` makes a decoder allocate (the invariant: bounded before allocation). */
function decoderElements(config: LlamaConfig): number {
  const hidden = config.hidden_size;
  const headDim = config.head_dim ?? hidden / config.num_attention_heads;
  const kvHeads = config.num_key_value_heads ?? config.num_attention_heads;
  const layer = hidden * headDim * (2 * config.num_attention_heads + 2 * kvHeads) + 3 * hidden * config.intermediate_size;
  return config.vocab_size * hidden * 2 + config.num_hidden_layers * layer;
}

/** Above what the readers' limits admit (2^40 decoder parameters, 2^35 tower parameters): tripping it means a limit was skipped. */
const MAX_ADMITTED_ELEMENTS = 2 ** 41;

function checkAdmitted(what: string, elements: number): void {
  if (!Number.isFinite(elements) || elements > MAX_ADMITTED_ELEMENTS) throw new Error(`limit skipped: ${what} config admitted with ${elements} parameters`);
}

/** The dominant weights of a tower: per layer 4 attention matrices and `mlpMatrices` MLP ones, plus `extra`. */
function towerElements(c: { hidden_size: number; intermediate_size: number; num_hidden_layers: number }, mlpMatrices: number, extra: number): number {
  return c.num_hidden_layers * (4 * c.hidden_size ** 2 + mlpMatrices * c.hidden_size * c.intermediate_size) + extra;
}

/**
 * Every model-config parser over one `config.json`: `readLlamaConfig` (file), `parseLlamaConfig`,
 * `parseClipVisionConfig`, `parseClipTextConfig`, `parseEva02VisionConfig`, and the EVA-CLIP,
 * timm and open_clip mappings feeding them. Besides typed errors only, the target checks that
 * any config a parser accepts describes a bounded number of parameters.
 */
export const modelConfigTarget: FuzzTarget = {
  name: 'model-config',
  description: 'readLlamaConfig / parseLlamaConfig, CLIP vision/text and EVA02 config parsers (HF, open_clip, EVA-CLIP, timm layouts)',
  maxLength: 8 * 1024,
  dictionary: [
    ...Object.keys(LlamaConfigSchema.shape).map((key) => `"${key}"`),
    '"vision_config"',
    '"text_config"',
    '"model_cfg"',
    '"vision_cfg"',
    '"text_cfg"',
    '"model_args"',
    '"architecture"',
    ...Object.keys(TIMM_EVA02_ARCHITECTURES).map((name) => `"${name}"`),
    '"image_size"',
    '"patch_size"',
    '"projection_dim"',
    '"width"',
    '"layers"',
    '"head_width"',
    '"mlp_ratio"',
    '"embed_dim"',
    '"llama"',
    '"qwen2"',
    '"mistral"',
    '"llama3"',
    '1e12',
    '4294967296',
    '-1',
    '0.5',
  ],
  structure: 'json',
  async seeds() {
    const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value, null, 2));
    const llama3 = {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: 128256,
      hidden_size: 4096,
      intermediate_size: 14336,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
      max_position_embeddings: 131072,
      tie_word_embeddings: false,
      bos_token_id: 128000,
      eos_token_id: [128001, 128008, 128009],
      torch_dtype: 'bfloat16',
    };
    const qwen2 = { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', vocab_size: 151936, hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, sliding_window: 32768, use_sliding_window: false, max_window_layers: 21, tie_word_embeddings: true };
    const clip = {
      architectures: ['CLIPModel'],
      projection_dim: 768,
      vision_config: { hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16, image_size: 336, patch_size: 14, hidden_act: 'quick_gelu' },
      text_config: { vocab_size: 49408, hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, max_position_embeddings: 77 },
    };
    const evaClip = { model_cfg: { embed_dim: 768, vision_cfg: { image_size: 224, layers: 24, width: 1024, head_width: 64, mlp_ratio: 2.6667, patch_size: 14, eva_model_name: 'eva-clip-l-14', naiveswiglu: true, subln: true, rope: true, intp_freq: true, pt_hw_seq_len: 16, xattn: true, fusedLN: true }, text_cfg: { context_length: 77, vocab_size: 49408, width: 768, heads: 12, layers: 12 } } };
    const timm = { architecture: 'eva02_large_patch14_clip_224', num_classes: 768, model_args: { img_size: 224, ref_feat_shape: [16, 16] } };
    const openClip = { model_cfg: { embed_dim: 512, vision_cfg: { image_size: 224, layers: 12, width: 768, patch_size: 32 }, text_cfg: { context_length: 77, vocab_size: 49408, width: 512, heads: 8, layers: 12 } } };
    return [encode(llama3), encode(qwen2), encode(clip), encode(evaClip), encode(timm), encode(openClip)];
  },
  async run(input, dir) {
    const path = join(dir, 'config.json');
    await writeFile(path, input);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(input));
    } catch {
      // not JSON: the file reader must say so with a typed error
      await readLlamaConfig(path);
      return;
    }
    const eva = (input: Parameters<typeof parseEva02VisionConfig>[0], what: string): void => {
      const c = parseEva02VisionConfig(input, path);
      checkAdmitted(what, towerElements(c, 3, ((c.image_size / c.patch_size) ** 2 + 3 * c.patch_size ** 2) * c.hidden_size));
    };
    const clipVision = (input: unknown, what: string): void => {
      const c = parseClipVisionConfig(input, path);
      checkAdmitted(what, towerElements(c, 2, ((c.image_size / c.patch_size) ** 2 + 3 * c.patch_size ** 2) * c.hidden_size));
    };
    const clipText = (input: unknown, what: string): void => {
      const c = parseClipTextConfig(input, path);
      checkAdmitted(what, towerElements(c, 2, (c.vocab_size + c.max_position_embeddings) * c.hidden_size));
    };
    const attempts: Array<() => void> = [
      () => checkAdmitted('llama', decoderElements(parseLlamaConfig(json, path))),
      () => clipVision(json, 'clip vision'),
      () => clipText(json, 'clip text'),
      () => eva(json as Parameters<typeof parseEva02VisionConfig>[0], 'eva02'),
      () => eva(evaClipVisionConfig(openClipModelConfig(json), path), 'EVA-CLIP'),
      () => clipVision(openClipVisionConfig(json, path), 'open_clip vision'),
      () => clipText(openClipTextConfig(json, path), 'open_clip text'),
      () => {
        if (json !== null && typeof json === 'object' && !Array.isArray(json)) eva(timmEvaVisionConfig(json as Record<string, unknown>, path), 'timm eva02');
      },
    ];
    let firstCrash: unknown;
    for (const attempt of attempts) {
      try {
        attempt();
      } catch (error) {
        // typed errors are expected; anything else is kept and rethrown once every parser ran
        if (!(error instanceof Llm2ClipError)) firstCrash ??= error;
      }
    }
    if (firstCrash !== undefined) throw firstCrash;
    await readLlamaConfig(path).catch((error: unknown) => {
      if (!(error instanceof Llm2ClipError)) throw error;
    });
  },
};

// ---------------------------------------------------------------------------------------------
// tokenizer.json
// ---------------------------------------------------------------------------------------------

/**
 * `LlmTokenizer.fromJson` over a fuzzed `tokenizer.json` (with a fixed `tokenizer_config.json`
 * naming `</s>` / `<|end_of_text|>` as EOS), then tokenizing a sentence. Seeds are the
 * `tokenizer.json` files the project itself builds from GGUF metadata (byte-level BPE and
 * SentencePiece BPE) and a WordPiece one.
 */
export const tokenizerJsonTarget: FuzzTarget = {
  name: 'tokenizer-json',
  description: 'LlmTokenizer.fromJson + tokenize (the @huggingface/tokenizers model behind the LLM tokenizer)',
  maxLength: 16 * 1024,
  dictionary: ['"model"', '"type"', '"BPE"', '"WordPiece"', '"Unigram"', '"vocab"', '"merges"', '"added_tokens"', '"pre_tokenizer"', '"normalizer"', '"post_processor"', '"decoder"', '"TemplateProcessing"', '"Sequence"', '"Split"', '"ByteLevel"', '"Regex"', '"pattern"', '"special_tokens"', '"ids"', '"unk_token"', '"byte_fallback"', '"</s>"', '"<|end_of_text|>"', '"(?i:a|b)"', '"[\\p{L}]+"', 'null'],
  structure: 'json',
  async seeds() {
    const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
    const seeds: Uint8Array[] = [];
    const dir = await mkdtemp(join(tmpdir(), 'llm2clip-fuzz-tok-seed-'));
    try {
      for (const [i, bytes] of (await ggufSeeds()).entries()) {
        const path = join(dir, `${i}.gguf`);
        await writeFile(path, bytes);
        const file = await GgufFile.open(path);
        try {
          if (file.get('tokenizer.ggml.tokens') !== undefined) seeds.push(encode(ggufTokenizerJson(file).tokenizer));
        } finally {
          await file.close();
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const words = ['<pad>', '<s>', '</s>', '<unk>', 'a', 'b', 'the', 'red', 'cube'];
    seeds.push(
      encode({
        version: '1.0',
        truncation: null,
        padding: null,
        added_tokens: words.slice(0, 4).map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
        normalizer: { type: 'Lowercase' },
        pre_tokenizer: { type: 'Whitespace' },
        post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }], special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } },
        decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
        model: { type: 'WordPiece', unk_token: '<unk>', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(words.map((w, id) => [w, id])) },
      }),
    );
    return seeds;
  },
  async run(input) {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(input));
    } catch {
      return; // not JSON: LlmTokenizer.fromPretrained's reader reports it; fromJson takes objects
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) return;
    const model = (json as { model?: { vocab?: Record<string, number> } }).model;
    const eos = model?.vocab !== undefined && typeof model.vocab === 'object' && model.vocab !== null && '</s>' in model.vocab ? '</s>' : '<|end_of_text|>';
    const tokenizer = LlmTokenizer.fromJson(json as Record<string, unknown>, { eos_token: eos }, 'tokenizer.json');
    tokenizer.tokenize('the red cube ab abc', { maxLength: 16 });
    tokenizer.tokenize(['an instruction', 'a b'], { maxLength: 8 });
  },
};

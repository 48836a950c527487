import { Llm2ClipError } from '@llm2clip/core';
import { headDimOf, kvHeadsOf, parseLlamaConfig, type LlamaConfig, type LlamaConfigInput } from './config.js';
import { GGUF_VALUE_TYPE, GgufFile, writeGguf, type GgmlTypeName, type GgufKeyValue, type GgufTensorToWrite, type GgufValue } from './gguf.js';
import { LlamaModel, type LoadOptions } from './llama-model.js';
import { LlmTokenizer, type LlmTokenizerOptions } from './tokenizer.js';
import { validateTokenizerJson } from './tokenizer-validation.js';
import type { WeightInfo, WeightSource } from './weight-source.js';

/** GGUF `general.architecture` values this package loads, with the `model_type` they become. */
export const GGUF_ARCHITECTURES: Readonly<Record<string, LlamaConfig['model_type']>> = { llama: 'llama', qwen2: 'qwen2' };

/** The Llama-3 pre-tokenizer regex (`tokenizer.ggml.pre` = `llama-bpe`). */
export const LLAMA3_PRETOKENIZER_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** The Qwen2 pre-tokenizer regex (`tokenizer.ggml.pre` = `qwen2`). */
export const QWEN2_PRETOKENIZER_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const PRETOKENIZER_REGEX: Record<string, string> = { 'llama-bpe': LLAMA3_PRETOKENIZER_REGEX, llama3: LLAMA3_PRETOKENIZER_REGEX, qwen2: QWEN2_PRETOKENIZER_REGEX };

/** Largest Σ (piece length)² {@link sentencePieceMerges} accepts (2^28; Llama 2's vocabulary needs about 2^21). */
export const MAX_MERGE_WORK = 2 ** 28;

/** GGUF token types (`llama_token_type`). */
const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

function num(file: GgufFile, key: string, fallback?: number): number {
  const value = file.get(key);
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw new Llm2ClipError('E_CONFIG', 'GGUF metadata key is missing', { path: file.path, field: key });
  }
  if (typeof value === 'bigint') return Number(value);
  if (typeof value !== 'number') throw new Llm2ClipError('E_CONFIG', 'GGUF metadata value is not a number', { path: file.path, field: key });
  return value;
}

/** HF name of a GGUF tensor name (`blk.3.attn_q.weight` → `model.layers.3.self_attn.q_proj.weight`), or undefined. */
export function hfTensorName(ggufName: string): string | undefined {
  const fixed: Record<string, string> = {
    'token_embd.weight': 'model.embed_tokens.weight',
    'output_norm.weight': 'model.norm.weight',
    'output.weight': 'lm_head.weight',
  };
  if (fixed[ggufName] !== undefined) return fixed[ggufName];
  const match = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(ggufName);
  if (match === null) return undefined;
  const [, layer, part, kind] = match;
  const parts: Record<string, string> = {
    attn_norm: 'input_layernorm',
    ffn_norm: 'post_attention_layernorm',
    attn_q: 'self_attn.q_proj',
    attn_k: 'self_attn.k_proj',
    attn_v: 'self_attn.v_proj',
    attn_output: 'self_attn.o_proj',
    ffn_gate: 'mlp.gate_proj',
    ffn_up: 'mlp.up_proj',
    ffn_down: 'mlp.down_proj',
  };
  return parts[part] === undefined ? undefined : `model.layers.${layer}.${parts[part]}.${kind}`;
}

/** GGUF name of a HF tensor name (inverse of {@link hfTensorName}). */
export function ggufTensorName(hfName: string): string {
  const fixed: Record<string, string> = {
    'model.embed_tokens.weight': 'token_embd.weight',
    'model.norm.weight': 'output_norm.weight',
    'lm_head.weight': 'output.weight',
  };
  if (fixed[hfName] !== undefined) return fixed[hfName];
  const match = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hfName);
  const parts: Record<string, string> = {
    input_layernorm: 'attn_norm',
    post_attention_layernorm: 'ffn_norm',
    'self_attn.q_proj': 'attn_q',
    'self_attn.k_proj': 'attn_k',
    'self_attn.v_proj': 'attn_v',
    'self_attn.o_proj': 'attn_output',
    'mlp.gate_proj': 'ffn_gate',
    'mlp.up_proj': 'ffn_up',
    'mlp.down_proj': 'ffn_down',
  };
  if (match === null || parts[match[2]] === undefined) throw new Llm2ClipError('E_CONFIG', 'tensor has no GGUF name', { field: hfName });
  return `blk.${match[1]}.${parts[match[2]]}.${match[3]}`;
}

/**
 * llama.cpp's `convert_hf_to_gguf.py` reorders the rows of Llama q/k projections (weights and
 * biases) from HF's rotate-half layout to interleaved pairs:
 * `w.reshape(nHead, 2, rows/nHead/2, …).swapaxes(1, 2).reshape(w.shape)`. This applies that
 * permutation (`inverse: false`) or undoes it (`inverse: true`) on a row-major `[rows, cols]` array.
 */
export function permuteRopeRows(values: Float32Array, rows: number, cols: number, heads: number, inverse: boolean): Float32Array {
  const headDim = rows / heads;
  const half = headDim / 2;
  const out = new Float32Array(values.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < half; j++) {
        const hf = h * headDim + i * half + j; // HF row: [head, half i, j]
        const gg = h * headDim + j * 2 + i; // GGUF row: [head, j, pair i]
        const [from, to] = inverse ? [gg, hf] : [hf, gg];
        out.set(values.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

/** Builds a `config.json`-shaped config from GGUF metadata (`{arch}.*` keys, tokenizer ids). */
export function ggufConfig(file: GgufFile): LlamaConfig {
  const arch = file.get('general.architecture');
  if (typeof arch !== 'string' || GGUF_ARCHITECTURES[arch] === undefined) {
    throw new Llm2ClipError('E_CONFIG', `unsupported GGUF architecture ${JSON.stringify(arch)}; supported: ${Object.keys(GGUF_ARCHITECTURES).join(', ')}`, { path: file.path, field: 'general.architecture' });
  }
  const modelType = GGUF_ARCHITECTURES[arch];
  const hidden = num(file, `${arch}.embedding_length`);
  const heads = num(file, `${arch}.attention.head_count`);
  const embed = file.header.tensors.find((t) => t.name === 'token_embd.weight');
  const tokens = file.get('tokenizer.ggml.tokens');
  const vocab = num(file, `${arch}.vocab_size`, embed?.dims[1] ?? (Array.isArray(tokens) ? tokens.length : undefined));
  const keyLength = file.get(`${arch}.attention.key_length`);
  const scalingType = file.get(`${arch}.rope.scaling.type`);
  let ropeScaling: LlamaConfigInput['rope_scaling'] = null;
  if (scalingType === 'linear') ropeScaling = { type: 'linear', factor: num(file, `${arch}.rope.scaling.factor`) };
  else if (scalingType !== undefined && scalingType !== 'none') {
    throw new Llm2ClipError('E_CONFIG', `unsupported rope scaling ${String(scalingType)}`, { path: file.path, field: `${arch}.rope.scaling.type` });
  }
  const id = (key: string): number | undefined => (file.get(key) === undefined ? undefined : num(file, key));
  const config: LlamaConfigInput = {
    architectures: [modelType === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: modelType,
    vocab_size: vocab,
    hidden_size: hidden,
    intermediate_size: num(file, `${arch}.feed_forward_length`),
    num_hidden_layers: num(file, `${arch}.block_count`),
    num_attention_heads: heads,
    num_key_value_heads: num(file, `${arch}.attention.head_count_kv`, heads),
    head_dim: keyLength === undefined ? undefined : Number(keyLength),
    rms_norm_eps: num(file, `${arch}.attention.layer_norm_rms_epsilon`, 1e-5),
    rope_theta: num(file, `${arch}.rope.freq_base`, 10000),
    rope_scaling: ropeScaling,
    max_position_embeddings: num(file, `${arch}.context_length`, 2048),
    tie_word_embeddings: !file.header.tensors.some((t) => t.name === 'output.weight'),
    attention_bias: file.header.tensors.some((t) => /^blk\.0\.attn_q\.bias$/.test(t.name)),
    bos_token_id: id('tokenizer.ggml.bos_token_id'),
    eos_token_id: id('tokenizer.ggml.eos_token_id'),
    pad_token_id: id('tokenizer.ggml.padding_token_id'),
    torch_dtype: 'float32',
  };
  return parseLlamaConfig(config, file.path);
}

/**
 * The tensors of a GGUF file under Hugging Face names and shapes, with llama.cpp's q/k row
 * permutation undone for the `llama` architecture (Qwen2 is stored unpermuted).
 */
export class GgufSource implements WeightSource {
  readonly path: string;
  private readonly names = new Map<string, string>();

  constructor(readonly file: GgufFile, private readonly config: LlamaConfig) {
    this.path = file.path;
    for (const t of file.header.tensors) {
      const hf = hfTensorName(t.name);
      if (hf !== undefined) this.names.set(hf, t.name);
      else if (t.name !== 'rope_freqs.weight') this.names.set(t.name, t.name);
    }
  }

  list(): WeightInfo[] {
    return [...this.names].map(([hf, gguf]) => {
      const info = this.file.tensor(gguf);
      return { name: hf, shape: [...info.dims].reverse(), dtype: info.typeName ?? `ggml type ${info.type}` };
    });
  }

  async read(name: string): Promise<Float32Array> {
    const gguf = this.names.get(name);
    if (gguf === undefined) throw new Llm2ClipError('E_NOT_FOUND', 'no such tensor', { path: this.path, field: name });
    const values = await this.file.read(gguf);
    const permuted = this.file.get('general.architecture') === 'llama' ? /\.self_attn\.(q|k)_proj\.(weight|bias)$/.exec(name) : null;
    if (permuted === null) return values;
    const heads = permuted[1] === 'q' ? this.config.num_attention_heads : kvHeadsOf(this.config);
    const rows = heads * headDimOf(this.config);
    return permuteRopeRows(values, rows, values.length / rows, heads, true);
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/** The token whose id the metadata `key` holds (e.g. `tokenizer.ggml.bos_token_id`), undefined when absent; `E_FORMAT` when the id is outside the vocabulary. */
function vocabularyToken(file: GgufFile, tokens: readonly string[], key: string): string | undefined {
  const id = file.get(key);
  if (id === undefined) return undefined;
  const token = tokens[Number(id)];
  if (token === undefined) throw new Llm2ClipError('E_FORMAT', `token id ${String(id)} is outside the vocabulary`, { path: file.path, field: key });
  return token;
}

function stringArray(file: GgufFile, key: string): string[] {
  const value = file.get(key);
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new Llm2ClipError('E_FORMAT', 'expected an array of strings', { path: file.path, field: key });
  return value as string[];
}

/**
 * Rebuilds a Hugging Face `tokenizer.json` + `tokenizer_config.json` from the tokenizer stored in
 * GGUF metadata. Byte-level BPE (`tokenizer.ggml.model` = `gpt2`) with the `llama-bpe` (Llama 3),
 * `qwen2` or `default`/`gpt2` pre-tokenizer is supported; control tokens become special added
 * tokens; `add_bos_token` puts BOS in front as the Llama-3 template does.
 */
export function ggufTokenizerJson(file: GgufFile): { tokenizer: Record<string, unknown>; config: Record<string, unknown> } {
  const model = file.get('tokenizer.ggml.model');
  if (model === 'llama') return sentencePieceTokenizerJson(file);
  if (model !== 'gpt2') {
    throw new Llm2ClipError('E_CONFIG', `GGUF tokenizer model ${JSON.stringify(model)} is not supported; supported: gpt2 (byte-level BPE), llama (SentencePiece BPE)`, { path: file.path, field: 'tokenizer.ggml.model' });
  }
  const tokens = stringArray(file, 'tokenizer.ggml.tokens');
  const types = file.get('tokenizer.ggml.token_type');
  const merges = stringArray(file, 'tokenizer.ggml.merges');
  const pre = (file.get('tokenizer.ggml.pre') as string | undefined) ?? 'default';
  // no prototype: a token spelled "__proto__" must become a vocabulary entry like any other
  const vocab = Object.create(null) as Record<string, number>;
  const added: Record<string, unknown>[] = [];
  tokens.forEach((token, id) => {
    const type = Array.isArray(types) ? Number(types[id]) : TOKEN_TYPE.NORMAL;
    if (type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.USER_DEFINED) {
      added.push({ id, content: token, single_word: false, lstrip: false, rstrip: false, normalized: type === TOKEN_TYPE.USER_DEFINED, special: type === TOKEN_TYPE.CONTROL });
    } else {
      vocab[token] = id;
    }
  });
  let preTokenizer: Record<string, unknown>;
  if (PRETOKENIZER_REGEX[pre] !== undefined) {
    preTokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: PRETOKENIZER_REGEX[pre] }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    };
  } else if (pre === 'default' || pre === 'gpt2') {
    preTokenizer = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  } else {
    throw new Llm2ClipError('E_CONFIG', `GGUF pre-tokenizer ${JSON.stringify(pre)} is not supported; supported: llama-bpe, qwen2, default`, { path: file.path, field: 'tokenizer.ggml.pre' });
  }
  const tokenAt = (key: string): string | undefined => vocabularyToken(file, tokens, key);
  const bos = tokenAt('tokenizer.ggml.bos_token_id');
  const addBos = (file.get('tokenizer.ggml.add_bos_token') ?? (pre === 'llama-bpe' || pre === 'llama3')) === true && bos !== undefined;
  const bosId = Number(file.get('tokenizer.ggml.bos_token_id'));
  const single: unknown[] = addBos ? [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }] : [{ Sequence: { id: 'A', type_id: 0 } }];
  const pair: unknown[] = addBos
    ? [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }]
    : [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }];
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        { type: 'TemplateProcessing', single, pair, special_tokens: addBos ? { [bos]: { id: bos, ids: [bosId], tokens: [bos] } } : {} },
      ],
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: pre === 'llama-bpe' || pre === 'llama3', vocab, merges },
  };
  const config: Record<string, unknown> = { add_bos_token: addBos, tokenizer_class: 'PreTrainedTokenizerFast' };
  if (bos !== undefined) config.bos_token = bos;
  const eos = tokenAt('tokenizer.ggml.eos_token_id');
  if (eos !== undefined) config.eos_token = eos;
  const pad = tokenAt('tokenizer.ggml.padding_token_id');
  if (pad !== undefined) config.pad_token = pad;
  const template = file.get('tokenizer.chat_template');
  if (typeof template === 'string') config.chat_template = template;
  return { tokenizer, config };
}

/**
 * BPE merges of a SentencePiece vocabulary as `transformers`' `generate_merges` derives them: every
 * split of a piece into two pieces of the vocabulary, ordered by the piece's score (highest
 * first), then by the lengths of the left and right parts (longest first), stably. The work
 * grows with the square of each piece's length, so a vocabulary whose pieces add up to more than
 * {@link MAX_MERGE_WORK} (Σ length², far above any real vocabulary) is refused (`E_FORMAT`).
 */
export function sentencePieceMerges(tokens: readonly string[], scores: readonly number[], path?: string): string[] {
  let work = 0;
  for (const token of tokens) work += token.length * token.length;
  if (work > MAX_MERGE_WORK) {
    throw new Llm2ClipError('E_FORMAT', `the vocabulary's pieces are too long to derive merges from (Σ length² = ${work} > ${MAX_MERGE_WORK})`, { path, field: 'tokenizer.ggml.tokens' });
  }
  const vocab = new Map<string, number>();
  tokens.forEach((token, id) => vocab.set(token, id));
  const merges: Array<{ left: string; right: string; score: number; leftLength: number; rightLength: number }> = [];
  tokens.forEach((piece, id) => {
    const chars = Array.from(piece);
    const local: typeof merges = [];
    let cut = 0;
    for (let i = 1; i < chars.length; i++) {
      cut += chars[i - 1].length;
      const left = piece.slice(0, cut);
      const right = piece.slice(cut);
      if (vocab.has(left) && vocab.has(right)) local.push({ left, right, score: scores[id], leftLength: i, rightLength: chars.length - i });
    }
    local.sort((a, b) => vocab.get(a.left)! - vocab.get(b.left)! || vocab.get(a.right)! - vocab.get(b.right)!);
    merges.push(...local);
  });
  merges.sort((a, b) => b.score - a.score || b.leftLength - a.leftLength || b.rightLength - a.rightLength);
  return merges.map((m) => `${m.left} ${m.right}`);
}

/**
 * `tokenizer.json` of a SentencePiece BPE vocabulary (`tokenizer.ggml.model` = `llama`: Llama 1/2,
 * Mistral) as `transformers`' `LlamaConverter` builds it: `▁` prepended and spaces replaced by
 * `▁`, byte fallback through `<0xNN>` tokens, merges from the scores.
 */
function sentencePieceTokenizerJson(file: GgufFile): { tokenizer: Record<string, unknown>; config: Record<string, unknown> } {
  const tokens = stringArray(file, 'tokenizer.ggml.tokens');
  const scoresValue = file.get('tokenizer.ggml.scores');
  if (!Array.isArray(scoresValue) || scoresValue.length !== tokens.length || scoresValue.some((v) => typeof v !== 'number')) {
    throw new Llm2ClipError('E_FORMAT', `expected ${tokens.length} float scores`, { path: file.path, field: 'tokenizer.ggml.scores' });
  }
  const scores = scoresValue as number[];
  const types = file.get('tokenizer.ggml.token_type');
  const typeOf = (id: number): number => (Array.isArray(types) ? Number(types[id]) : TOKEN_TYPE.NORMAL);
  // no prototype: a token spelled "__proto__" must become a vocabulary entry like any other
  const vocab = Object.create(null) as Record<string, number>;
  const added: Record<string, unknown>[] = [];
  let unk: string | undefined;
  tokens.forEach((token, id) => {
    vocab[token] = id;
    const type = typeOf(id);
    if (type === TOKEN_TYPE.UNKNOWN) unk ??= token;
    if (type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.UNKNOWN || type === TOKEN_TYPE.USER_DEFINED) {
      added.push({ id, content: token, single_word: false, lstrip: false, rstrip: false, normalized: type === TOKEN_TYPE.USER_DEFINED, special: type !== TOKEN_TYPE.USER_DEFINED });
    }
  });
  const unkId = file.get('tokenizer.ggml.unknown_token_id');
  if (unkId !== undefined) unk = tokens[Number(unkId)];
  const tokenAt = (key: string): string | undefined => vocabularyToken(file, tokens, key);
  const bos = tokenAt('tokenizer.ggml.bos_token_id');
  const eos = tokenAt('tokenizer.ggml.eos_token_id');
  const pad = tokenAt('tokenizer.ggml.padding_token_id');
  const addBos = file.get('tokenizer.ggml.add_bos_token') !== false && bos !== undefined;
  const addEos = file.get('tokenizer.ggml.add_eos_token') === true && eos !== undefined;
  const special = (token: string, typeId: number) => ({ SpecialToken: { id: token, type_id: typeId } });
  const single: unknown[] = [...(addBos ? [special(bos!, 0)] : []), { Sequence: { id: 'A', type_id: 0 } }, ...(addEos ? [special(eos!, 0)] : [])];
  const pair: unknown[] = [...single, ...(addBos ? [special(bos!, 1)] : []), { Sequence: { id: 'B', type_id: 1 } }, ...(addEos ? [special(eos!, 1)] : [])];
  const specialTokens: Record<string, unknown> = {};
  if (addBos) specialTokens[bos!] = { id: bos, ids: [vocab[bos!]], tokens: [bos] };
  if (addEos) specialTokens[eos!] = { id: eos, ids: [vocab[eos!]], tokens: [eos] };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single, pair, special_tokens: specialTokens },
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
    },
    model: { type: 'BPE', dropout: null, unk_token: unk ?? null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: sentencePieceMerges(tokens, scores, file.path) },
  };
  const config: Record<string, unknown> = { add_bos_token: addBos, add_eos_token: addEos, legacy: true, tokenizer_class: 'LlamaTokenizerFast' };
  if (bos !== undefined) config.bos_token = bos;
  if (eos !== undefined) config.eos_token = eos;
  if (pad !== undefined) config.pad_token = pad;
  if (unk !== undefined) config.unk_token = unk;
  const template = file.get('tokenizer.chat_template');
  if (typeof template === 'string') config.chat_template = template;
  return { tokenizer, config };
}

/** A model (and, when the file has one, its tokenizer) loaded from GGUF. */
export interface GgufModel {
  model: LlamaModel;
  tokenizer: LlmTokenizer | undefined;
  config: LlamaConfig;
}

/**
 * Loads a GGUF file (`llama` or `qwen2` architecture; F32, F16, BF16 or Q8_0 tensors) into a
 * {@link LlamaModel}, dequantizing to float32 one tensor at a time, with the tokenizer rebuilt
 * from its metadata when present (with `chatTemplate`, default `none`). Llama 3 `rope_freqs`
 * factors are applied as llama.cpp does.
 */
export async function loadGgufModel(path: string, options: LoadOptions & LlmTokenizerOptions = {}): Promise<GgufModel> {
  const file = await GgufFile.open(path);
  try {
    const config = ggufConfig(file);
    let ropeFactors: Float32Array | undefined;
    if (file.header.tensors.some((t) => t.name === 'rope_freqs.weight')) {
      ropeFactors = await file.read('rope_freqs.weight');
      if (ropeFactors.length !== headDimOf(config) / 2) throw new Llm2ClipError('E_SHAPE', `rope_freqs has ${ropeFactors.length} entries, expected ${headDimOf(config) / 2}`, { path, field: 'rope_freqs.weight' });
    }
    const tokenizer = file.get('tokenizer.ggml.tokens') === undefined ? undefined : (() => {
      const { tokenizer: json, config: tokenizerConfig } = ggufTokenizerJson(file);
      validateTokenizerJson(json, path);
      try {
        return LlmTokenizer.fromJson(json, tokenizerConfig, path, { chatTemplate: options.chatTemplate });
      } catch (cause) {
        // the tokenizers library throws plain errors on vocabularies it cannot use
        if (cause instanceof Llm2ClipError) throw cause;
        throw new Llm2ClipError('E_FORMAT', `the GGUF tokenizer metadata does not make a usable tokenizer: ${(cause as Error).message}`, { path, field: 'tokenizer.ggml.tokens', cause });
      }
    })();
    const model = await LlamaModel.fromSource(config, new GgufSource(file, config), { ...options, ropeFactors: ropeFactors ?? options.ropeFactors });
    return { model, tokenizer, config };
  } finally {
    await file.close();
  }
}

/** Options of {@link writeGgufModel}. */
export interface WriteGgufOptions {
  /** Storage type of 2-D weights (norms and biases stay F32, as llama.cpp keeps them). Default `F16`. */
  type?: GgmlTypeName;
  /** `tokenizer.json` + `tokenizer_config.json` objects to embed (byte-level BPE only). */
  tokenizer?: { tokenizer: Record<string, unknown>; config?: Record<string, unknown> };
  /** `tokenizer.ggml.pre` to record. Default `llama-bpe`. */
  pre?: string;
  /** `general.name`. Default `llm2clip-export`. */
  name?: string;
}

function kv(key: string, type: number, value: GgufValue, arrayType?: number): GgufKeyValue {
  return arrayType === undefined ? { key, type, value } : { key, type, value, arrayType };
}

/**
 * Writes `model` as a GGUF v3 file the way llama.cpp's `convert_hf_to_gguf.py` lays it out:
 * `{arch}.*` metadata, GGUF tensor names, Llama q/k rows permuted for llama.cpp's rope, 2-D
 * weights as `type` (F32, F16, BF16 or Q8_0), 1-D tensors as F32, Llama 3 rope scaling as a
 * `rope_freqs` tensor, and optionally the tokenizer.
 */
export async function writeGgufModel(model: LlamaModel, path: string, options: WriteGgufOptions = {}): Promise<void> {
  const config = model.config;
  const arch = config.model_type === 'qwen2' ? 'qwen2' : 'llama';
  const type = options.type ?? 'F16';
  const metadata: GgufKeyValue[] = [
    kv('general.architecture', GGUF_VALUE_TYPE.STRING, arch),
    kv('general.name', GGUF_VALUE_TYPE.STRING, options.name ?? 'llm2clip-export'),
    kv('general.alignment', GGUF_VALUE_TYPE.UINT32, 32),
    kv(`${arch}.context_length`, GGUF_VALUE_TYPE.UINT32, config.max_position_embeddings),
    kv(`${arch}.embedding_length`, GGUF_VALUE_TYPE.UINT32, config.hidden_size),
    kv(`${arch}.block_count`, GGUF_VALUE_TYPE.UINT32, config.num_hidden_layers),
    kv(`${arch}.feed_forward_length`, GGUF_VALUE_TYPE.UINT32, config.intermediate_size),
    kv(`${arch}.attention.head_count`, GGUF_VALUE_TYPE.UINT32, config.num_attention_heads),
    kv(`${arch}.attention.head_count_kv`, GGUF_VALUE_TYPE.UINT32, kvHeadsOf(config)),
    kv(`${arch}.rope.freq_base`, GGUF_VALUE_TYPE.FLOAT32, config.rope_theta),
    kv(`${arch}.attention.layer_norm_rms_epsilon`, GGUF_VALUE_TYPE.FLOAT32, config.rms_norm_eps),
    kv(`${arch}.vocab_size`, GGUF_VALUE_TYPE.UINT32, config.vocab_size),
    kv(`${arch}.rope.dimension_count`, GGUF_VALUE_TYPE.UINT32, headDimOf(config)),
    kv('general.file_type', GGUF_VALUE_TYPE.UINT32, { F32: 0, F16: 1, Q8_0: 7, BF16: 32 }[type]),
  ];
  if (config.head_dim != null && config.head_dim !== config.hidden_size / config.num_attention_heads) {
    metadata.push(kv(`${arch}.attention.key_length`, GGUF_VALUE_TYPE.UINT32, config.head_dim), kv(`${arch}.attention.value_length`, GGUF_VALUE_TYPE.UINT32, config.head_dim));
  }
  if (config.rope_scaling != null && (config.rope_scaling.rope_type ?? config.rope_scaling.type) === 'linear') {
    metadata.push(kv(`${arch}.rope.scaling.type`, GGUF_VALUE_TYPE.STRING, 'linear'), kv(`${arch}.rope.scaling.factor`, GGUF_VALUE_TYPE.FLOAT32, config.rope_scaling.factor ?? 1));
  }
  if (options.tokenizer !== undefined) metadata.push(...tokenizerMetadata(options.tokenizer.tokenizer, options.tokenizer.config ?? {}, options.pre ?? 'llama-bpe'));
  else {
    const eos = Array.isArray(config.eos_token_id) ? config.eos_token_id[0] : config.eos_token_id;
    if (config.bos_token_id != null) metadata.push(kv('tokenizer.ggml.bos_token_id', GGUF_VALUE_TYPE.UINT32, config.bos_token_id));
    if (eos != null) metadata.push(kv('tokenizer.ggml.eos_token_id', GGUF_VALUE_TYPE.UINT32, eos));
  }
  const tensors: GgufTensorToWrite[] = [];
  for (const [name, variable] of model.parameters.entries()) {
    let values = (await variable.data()) as Float32Array;
    const shape = variable.shape;
    const qk = arch === 'llama' ? /\.self_attn\.(q|k)_proj\.(weight|bias)$/.exec(name) : null;
    if (qk !== null) {
      const heads = qk[1] === 'q' ? config.num_attention_heads : kvHeadsOf(config);
      values = permuteRopeRows(values, shape[0], shape[1] ?? 1, heads, false);
    }
    const tensorType: GgmlTypeName = shape.length === 1 ? 'F32' : type;
    tensors.push({ name: ggufTensorName(name), dims: [...shape].reverse(), type: tensorType, values });
  }
  const ropeFactors = llama3RopeFactors(config);
  if (ropeFactors !== undefined) tensors.push({ name: 'rope_freqs.weight', dims: [ropeFactors.length], type: 'F32', values: ropeFactors });
  await writeGguf(path, metadata, tensors);
}

/**
 * The `rope_freqs` tensor llama.cpp's converter writes for Llama 3 `rope_scaling` (per-frequency
 * divisors: 1 for high frequencies, `factor` for low ones, interpolated between), or undefined
 * for other configs.
 */
export function llama3RopeFactors(config: LlamaConfig): Float32Array | undefined {
  const scaling = config.rope_scaling;
  if (scaling == null || (scaling.rope_type ?? scaling.type) !== 'llama3') return undefined;
  const dim = headDimOf(config);
  const factor = scaling.factor ?? 8;
  const low = scaling.low_freq_factor ?? 1;
  const high = scaling.high_freq_factor ?? 4;
  const old = scaling.original_max_position_embeddings ?? 8192;
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const freq = 1 / config.rope_theta ** ((2 * i) / dim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < old / high) out[i] = 1;
    else if (wavelen > old / low) out[i] = factor;
    else {
      const smooth = (old / wavelen - low) / (high - low);
      out[i] = 1 / ((1 - smooth) / factor + smooth);
    }
  }
  return out;
}

/** `tokenizer.ggml.*` metadata of a byte-level BPE `tokenizer.json`, as llama.cpp's converter writes it. */
function tokenizerMetadata(json: Record<string, unknown>, config: Record<string, unknown>, pre: string): GgufKeyValue[] {
  const model = json.model as { type?: string; vocab?: Record<string, number>; merges?: Array<string | [string, string]> };
  if (model?.type !== 'BPE' || model.vocab === undefined || model.merges === undefined) throw new Llm2ClipError('E_CONFIG', 'only byte-level BPE tokenizers can be written to GGUF', { field: 'model.type' });
  const added = (json.added_tokens as Array<{ id: number; content: string; special: boolean }> | undefined) ?? [];
  let size = 0;
  for (const id of Object.values(model.vocab)) size = Math.max(size, id + 1);
  for (const t of added) size = Math.max(size, t.id + 1);
  const tokens: string[] = new Array<string>(size).fill('');
  const types: number[] = new Array<number>(size).fill(TOKEN_TYPE.UNUSED);
  for (const [token, id] of Object.entries(model.vocab)) {
    tokens[id] = token;
    types[id] = TOKEN_TYPE.NORMAL;
  }
  for (const t of added) {
    tokens[t.id] = t.content;
    types[t.id] = t.special ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED;
  }
  tokens.forEach((t, id) => {
    if (t === '') tokens[id] = `[PAD${id}]`;
  });
  const merges = model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  const idOf = (field: string): number | undefined => {
    const value = config[field];
    const content = typeof value === 'string' ? value : (value as { content?: string } | undefined)?.content;
    if (content === undefined) return undefined;
    const id = tokens.indexOf(content);
    return id < 0 ? undefined : id;
  };
  const out: GgufKeyValue[] = [
    kv('tokenizer.ggml.model', GGUF_VALUE_TYPE.STRING, 'gpt2'),
    kv('tokenizer.ggml.pre', GGUF_VALUE_TYPE.STRING, pre),
    kv('tokenizer.ggml.tokens', GGUF_VALUE_TYPE.ARRAY, tokens, GGUF_VALUE_TYPE.STRING),
    kv('tokenizer.ggml.token_type', GGUF_VALUE_TYPE.ARRAY, types, GGUF_VALUE_TYPE.INT32),
    kv('tokenizer.ggml.merges', GGUF_VALUE_TYPE.ARRAY, merges, GGUF_VALUE_TYPE.STRING),
  ];
  const bos = idOf('bos_token');
  const eos = idOf('eos_token');
  const pad = idOf('pad_token');
  if (bos !== undefined) out.push(kv('tokenizer.ggml.bos_token_id', GGUF_VALUE_TYPE.UINT32, bos));
  if (eos !== undefined) out.push(kv('tokenizer.ggml.eos_token_id', GGUF_VALUE_TYPE.UINT32, eos));
  if (pad !== undefined) out.push(kv('tokenizer.ggml.padding_token_id', GGUF_VALUE_TYPE.UINT32, pad));
  out.push(kv('tokenizer.ggml.add_bos_token', GGUF_VALUE_TYPE.BOOL, config.add_bos_token !== false && bos !== undefined));
  if (typeof config.chat_template === 'string') out.push(kv('tokenizer.chat_template', GGUF_VALUE_TYPE.STRING, config.chat_template));
  return out;
}

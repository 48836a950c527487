import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Llm2ClipError } from '@llm2clip/core';
import { validateTokenizerJson } from './tokenizer-validation.js';

/** A text to encode, or an `[instruction, text]` pair whose instruction is excluded from pooling. */
export type TextInput = string | readonly [instruction: string, text: string];

/** Options of {@link LlmTokenizer.encodeBatch}. */
export interface TokenizeOptions {
  /** Longest sequence in tokens, special tokens included; longer texts are cut at the end. Default 512. */
  maxLength?: number;
  /** Add the post-processor's special tokens (`<s>` …). Default true. */
  addSpecialTokens?: boolean;
}

/** Options of {@link LlmTokenizer.encodeBatch} and {@link LlmTokenizer.pad}. */
export interface EncodeBatchOptions extends TokenizeOptions {
  /** Side that receives padding. Default `left`, as LLM2Vec pads. */
  padding?: 'left' | 'right';
}

/** One tokenized input before padding. */
export interface TokenizedText {
  /** Token ids, special tokens included. */
  ids: number[];
  /** 1 for tokens that belong to the text (pooled), 0 for instruction tokens. Same length as `ids`. */
  embedMask: number[];
}

/**
 * A padded batch, row-major `[batch, length]`. `embedMask` is LLM2Vec's `embed_mask`: 1 on tokens
 * that are pooled (the text; for plain texts every non-padding token), 0 on instruction tokens
 * and padding.
 */
export interface EncodedBatch {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  embedMask: Int32Array;
  /** Number of rows. */
  batch: number;
  /** Padded length (the longest row). */
  length: number;
}

/**
 * Prompt wrapping applied around every input: `llama3` is the Llama-3 chat turn that LLM2Vec and
 * the released LLM2CLIP Llama-3 checkpoints use (`<|start_header_id|>user<|end_header_id|>\n\n`
 * before, `<|eot_id|>` after the text, after `<|begin_of_text|>`); `none` leaves texts as they
 * are; `auto` picks `llama3` when `tokenizer_config.json`'s `chat_template` is a Llama-3 one.
 */
export type ChatTemplate = 'auto' | 'llama3' | 'none';

/** Options of {@link LlmTokenizer.fromDirectory} and {@link LlmTokenizer.fromJson}. */
export interface LlmTokenizerOptions {
  /** Prompt wrapping. Default `none` (`auto` in `LlmEmbedder.fromPretrained`). */
  chatTemplate?: ChatTemplate;
}

/** The user-turn header of the Llama-3 chat template. */
export const LLAMA3_USER_HEADER = '<|start_header_id|>user<|end_header_id|>\n\n';
/** The end-of-turn marker of the Llama-3 chat template. */
export const LLAMA3_END_OF_TURN = '<|eot_id|>';

type SpecialTokenValue = string | { content?: string } | null | undefined;

function specialTokenContent(value: SpecialTokenValue): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  return typeof value.content === 'string' ? value.content : undefined;
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new Llm2ClipError('E_IO', 'cannot read tokenizer file', { path, cause });
  }
  try {
    const json = JSON.parse(text) as unknown;
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('not an object');
    return json as Record<string, unknown>;
  } catch (cause) {
    throw new Llm2ClipError('E_FORMAT', 'tokenizer file is not a JSON object', { path, cause });
  }
}

/**
 * Runs a call into `@huggingface/tokenizers`, turning the plain errors (`TypeError`s on mistyped
 * pipeline fields, found by the `tokenizer-json` fuzz target) it throws into `E_FORMAT` naming the
 * tokenizer file; typed errors pass through.
 */
function library<T>(path: string, what: string, run: () => T): T {
  try {
    return run();
  } catch (cause) {
    if (cause instanceof Llm2ClipError) throw cause;
    throw new Llm2ClipError('E_FORMAT', `tokenizer.json cannot be used (${what}): ${cause instanceof Error ? cause.message : String(cause)}`, { path, cause });
  }
}

/**
 * A Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) tokenizer for decoder LLMs, with
 * LLM2Vec's conventions: left padding with the pad token (or EOS when there is none), truncation
 * that keeps the special tokens, and `[instruction, text]` pairs whose instruction tokens are
 * marked out of pooling.
 *
 * Special tokens are found once by comparing an encoding with and without them, so each input is
 * tokenized once without specials, truncated, and wrapped in the template's prefix/suffix — what
 * `transformers` does when it truncates before post-processing.
 *
 * @example
 * ```ts
 * const tokenizer = await LlmTokenizer.fromDirectory('models/tiny-llama');
 * const batch = tokenizer.encodeBatch(['a red cube', ['Retrieve the caption:', 'a red cube']], { maxLength: 64 });
 * ```
 */
export class LlmTokenizer {
  /** The underlying `@huggingface/tokenizers` tokenizer. */
  readonly tokenizer: Tokenizer;
  /** Id used for padding (the pad token, else EOS). */
  readonly padTokenId: number;
  /** Id of the BOS token, if the tokenizer has one. */
  readonly bosTokenId: number | undefined;
  /** Id of the EOS token, if the tokenizer has one. */
  readonly eosTokenId: number | undefined;
  /** Number of ids (model vocabulary plus added tokens). */
  readonly vocabSize: number;
  /** Ids the post-processor puts before / after a single sequence. */
  private readonly prefixIds: number[];
  private readonly suffixIds: number[];
  /** The prompt wrapping in effect (`auto` resolved). */
  readonly chatTemplate: 'llama3' | 'none';

  private readonly source: { json: Record<string, unknown>; config: Record<string, unknown>; path: string };

  private constructor(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>, path: string, options: LlmTokenizerOptions = {}) {
    this.source = { json: tokenizerJson, config: tokenizerConfig, path };
    // bounds ids and checks the shapes the library indexes into (a 2^31 id makes get_vocab hang)
    validateTokenizerJson(tokenizerJson, path);
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (cause) {
      throw new Llm2ClipError('E_FORMAT', `unsupported tokenizer.json: ${(cause as Error).message}`, { path, cause });
    }
    const idOf = (field: string): number | undefined => {
      const content = specialTokenContent(tokenizerConfig[field] as SpecialTokenValue);
      if (content === undefined) return undefined;
      const id = library(path, 'token_to_id', () => this.tokenizer.token_to_id(content));
      if (id === undefined) throw new Llm2ClipError('E_CONFIG', `special token ${JSON.stringify(content)} is not in the vocabulary`, { path, field });
      return id;
    };
    this.bosTokenId = idOf('bos_token');
    this.eosTokenId = idOf('eos_token');
    const padTokenId = idOf('pad_token') ?? this.eosTokenId;
    if (padTokenId === undefined) throw new Llm2ClipError('E_CONFIG', 'tokenizer has neither pad_token nor eos_token', { path, field: 'pad_token' });
    this.padTokenId = padTokenId;
    const vocab = library(path, 'get_vocab', () => this.tokenizer.get_vocab(true));
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    const probe = 'a';
    // a probe encoding at load, so that a pipeline the library cannot run fails here, typed
    const bare: number[] = library(path, 'encode', () => this.tokenizer.encode(probe, { add_special_tokens: false }).ids);
    const full: number[] = library(path, 'encode', () => this.tokenizer.encode(probe, { add_special_tokens: true }).ids);
    let offset = -1;
    for (let start = 0; start + bare.length <= full.length && offset < 0; start++) {
      if (bare.every((id, i) => full[start + i] === id)) offset = start;
    }
    if (offset < 0) throw new Llm2ClipError('E_FORMAT', 'cannot locate the text inside the post-processor template', { path, field: 'post_processor' });
    this.prefixIds = full.slice(0, offset);
    this.suffixIds = full.slice(offset + bare.length);
    const requested = options.chatTemplate ?? 'none';
    if (requested !== 'auto' && requested !== 'llama3' && requested !== 'none') {
      throw new Llm2ClipError('E_CONFIG', `chatTemplate must be auto, llama3 or none, got ${String(requested)}`, { field: 'chatTemplate' });
    }
    const template = tokenizerConfig.chat_template;
    const isLlama3 = typeof template === 'string' && template.includes('<|start_header_id|>');
    this.chatTemplate = requested === 'llama3' || (requested === 'auto' && isLlama3) ? 'llama3' : 'none';
    if (this.chatTemplate === 'llama3') {
      for (const token of ['<|start_header_id|>', '<|end_header_id|>', LLAMA3_END_OF_TURN]) {
        if (library(path, 'token_to_id', () => this.tokenizer.token_to_id(token)) === undefined) throw new Llm2ClipError('E_CONFIG', `the Llama-3 chat template needs token ${token}, which the vocabulary lacks`, { path, field: 'chatTemplate' });
      }
    }
  }

  /** Reads `tokenizer.json` and (if present) `tokenizer_config.json` from a model directory. */
  static async fromDirectory(dir: string, options: LlmTokenizerOptions = {}): Promise<LlmTokenizer> {
    const tokenizerPath = join(dir, 'tokenizer.json');
    const tokenizerJson = await readJson(tokenizerPath);
    let config: Record<string, unknown> = {};
    try {
      config = await readJson(join(dir, 'tokenizer_config.json'));
    } catch (error) {
      if (!(error instanceof Llm2ClipError && error.code === 'E_IO')) throw error;
    }
    return new LlmTokenizer(tokenizerJson, config, tokenizerPath, options);
  }

  /** Builds a tokenizer from already-parsed `tokenizer.json` and `tokenizer_config.json` objects. */
  static fromJson(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown> = {}, path = '<memory>', options: LlmTokenizerOptions = {}): LlmTokenizer {
    return new LlmTokenizer(tokenizerJson, tokenizerConfig, path, options);
  }

  /** The same tokenizer with another prompt wrapping. */
  withChatTemplate(chatTemplate: ChatTemplate): LlmTokenizer {
    return new LlmTokenizer(this.source.json, this.source.config, this.source.path, { chatTemplate });
  }

  /**
   * Token ids of `text` without special tokens. An error of the tokenizers library on this text
   * (a pipeline that only fails on some inputs) is `E_FORMAT` naming the tokenizer file.
   */
  encodeText(text: string): number[] {
    return library(this.source.path, 'encode', () => this.tokenizer.encode(text, { add_special_tokens: false }).ids);
  }

  /**
   * Tokenizes one input the way LLM2Vec does. A pair `[instruction, text]` is encoded as one
   * string `instruction.trim() + ' ' + text` and a plain text as itself (wrapped in the Llama-3
   * user turn when {@link chatTemplate} is `llama3`), with the post-processor's special tokens
   * around it. `embedMask` marks the last N tokens before the suffix, N being the token count of
   * the text (plus `<|eot_id|>` under the template) encoded on its own — so BOS, the template
   * header and the instruction are never pooled.
   *
   * Truncation to `maxLength` cuts the text only: special tokens, template and instruction stay.
   */
  tokenize(input: TextInput, options: TokenizeOptions = {}): TokenizedText {
    const { maxLength = 512, addSpecialTokens = true } = options;
    const prefix = addSpecialTokens ? this.prefixIds : [];
    const suffix = addSpecialTokens ? this.suffixIds : [];
    const [instruction, rawText] = typeof input === 'string' ? ['', input] : input;
    const template = this.chatTemplate === 'llama3';
    const trimmed = instruction.trim();
    const lead = (template ? LLAMA3_USER_HEADER : '') + (trimmed.length > 0 ? `${trimmed} ` : '');
    const text = template ? rawText.trimEnd() : rawText;
    const tail = template ? LLAMA3_END_OF_TURN : '';
    const joined = this.encodeText(lead + text + tail);
    const pooledCount = Math.min(this.encodeText(text + tail).length, joined.length);
    if (prefix.length + joined.length + suffix.length <= maxLength) {
      const ids = [...prefix, ...joined, ...suffix];
      const embedMask = new Array<number>(ids.length).fill(0);
      embedMask.fill(1, prefix.length + joined.length - pooledCount, prefix.length + joined.length);
      return { ids, embedMask };
    }
    const leadIds = lead.length > 0 ? this.encodeText(lead) : [];
    const tailIds = tail.length > 0 ? this.encodeText(tail) : [];
    const budget = Math.max(0, maxLength - prefix.length - suffix.length - leadIds.length - tailIds.length);
    const textIds = this.encodeText(text).slice(0, budget);
    const ids = [...prefix, ...leadIds, ...textIds, ...tailIds, ...suffix].slice(0, maxLength);
    const embedMask = new Array<number>(ids.length).fill(0);
    const start = prefix.length + leadIds.length;
    embedMask.fill(1, Math.min(start, ids.length), Math.min(start + textIds.length + tailIds.length, ids.length));
    return { ids, embedMask };
  }

  /** Pads tokenized inputs to the longest one (left by default) with {@link padTokenId}. */
  pad(items: readonly TokenizedText[], options: Pick<EncodeBatchOptions, 'padding'> = {}): EncodedBatch {
    const { padding = 'left' } = options;
    if (padding !== 'left' && padding !== 'right') throw new Llm2ClipError('E_CONFIG', `padding must be left or right, got ${String(padding)}`, { field: 'padding' });
    const batch = items.length;
    const length = items.reduce((max, item) => Math.max(max, item.ids.length), 0);
    const inputIds = new Int32Array(batch * length).fill(this.padTokenId);
    const attentionMask = new Int32Array(batch * length);
    const embedMask = new Int32Array(batch * length);
    items.forEach((item, row) => {
      const start = row * length + (padding === 'left' ? length - item.ids.length : 0);
      inputIds.set(item.ids, start);
      attentionMask.fill(1, start, start + item.ids.length);
      embedMask.set(item.embedMask, start);
    });
    return { inputIds, attentionMask, embedMask, batch, length };
  }

  /** Tokenizes, truncates and pads a batch of texts and/or `[instruction, text]` pairs. */
  encodeBatch(inputs: readonly TextInput[], options: EncodeBatchOptions = {}): EncodedBatch {
    return this.pad(inputs.map((input) => this.tokenize(input, options)), options);
  }

  /** Text of `ids` (special tokens skipped unless `skipSpecialTokens` is false). */
  decode(ids: readonly number[], skipSpecialTokens = true): string {
    if (ids.length === 0) return '';
    return library(this.source.path, 'decode', () => this.tokenizer.decode([...ids], { skip_special_tokens: skipSpecialTokens }));
  }
}

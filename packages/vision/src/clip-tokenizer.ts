import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Llm2ClipError, writeJsonAtomic } from '@llm2clip/core';

/** Options of {@link ClipTextTokenizer}. */
export interface ClipTextTokenizerOptions {
  /** Sequence length after truncation and padding (CLIP: 77). */
  contextLength?: number;
  /** Start token id; default: the id of `<|startoftext|>`, `<s>` or `<bos>`, whichever exists. */
  bosTokenId?: number;
  /** End token id; default: the id of `<|endoftext|>`, `</s>` or `<eos>`. */
  eosTokenId?: number;
  /** Padding id; default: the id of `<pad>`, else the end token (as Hugging Face's CLIP tokenizer pads). */
  padTokenId?: number;
}

/** Token ids of a batch: `batch × contextLength` int32 values, row-major. */
export interface TokenizedBatch {
  batch: number;
  length: number;
  ids: Int32Array;
}

const BOS_CANDIDATES = ['<|startoftext|>', '<s>', '<bos>'];
const EOS_CANDIDATES = ['<|endoftext|>', '</s>', '<eos>'];
const UNK_CANDIDATES = ['<unk>', '<|endoftext|>', '[UNK]'];

/**
 * Tokenises captions for the CLIP text tower from a Hugging Face `tokenizer.json` (via
 * `@huggingface/tokenizers`): `[bos, tokens…, eos, pad…]`, truncated so the end token is always
 * kept at the last kept position, and padded to `contextLength` (77) — what OpenAI's
 * `clip.tokenize(truncate=True)` does. Special tokens are added here rather than by the file's
 * post-processor, so it works both with CLIP's byte-level BPE `tokenizer.json` and with the
 * synthetic word-level tokenizer (`<s>`, `</s>`, `<pad>`) of `@llm2clip/data`. Words a
 * word-level vocabulary lacks map to its `unk_token`.
 *
 * @example
 * ```ts
 * const tokenizer = await ClipTextTokenizer.fromFile('data/tokenizer.json');
 * const ids = tokenizer.encode('a red circle'); // Int32Array(77)
 * ```
 */
export class ClipTextTokenizer {
  /** Sequence length of every encoding. */
  readonly contextLength: number;
  /** Start token id. */
  readonly bosTokenId: number;
  /** End token id (where the text tower pools). */
  readonly eosTokenId: number;
  /** Padding id. */
  readonly padTokenId: number;
  /** One more than the largest id (the text tower's minimum `vocab_size`). */
  readonly vocabSize: number;
  private readonly tokenizer: Tokenizer;
  private readonly json: Record<string, unknown>;
  private readonly unkTokenId: number | undefined;

  private constructor(json: Record<string, unknown>, options: ClipTextTokenizerOptions, path?: string) {
    this.json = json;
    try {
      this.tokenizer = new Tokenizer(json, {});
    } catch (cause) {
      throw new Llm2ClipError('E_FORMAT', 'cannot build a tokenizer from this tokenizer.json', { path, cause });
    }
    const find = (candidates: string[]): number | undefined => {
      for (const token of candidates) {
        const id = this.tokenizer.token_to_id(token);
        if (id !== undefined) return id;
      }
      return undefined;
    };
    const bos = options.bosTokenId ?? find(BOS_CANDIDATES);
    const eos = options.eosTokenId ?? find(EOS_CANDIDATES);
    if (bos === undefined) throw new Llm2ClipError('E_CONFIG', `no start token (${BOS_CANDIDATES.join(', ')}) in the vocabulary; pass bosTokenId`, { path, field: 'bos_token' });
    if (eos === undefined) throw new Llm2ClipError('E_CONFIG', `no end token (${EOS_CANDIDATES.join(', ')}) in the vocabulary; pass eosTokenId`, { path, field: 'eos_token' });
    this.bosTokenId = bos;
    this.eosTokenId = eos;
    this.padTokenId = options.padTokenId ?? find(['<pad>']) ?? eos;
    this.contextLength = options.contextLength ?? 77;
    if (!Number.isInteger(this.contextLength) || this.contextLength < 2) {
      throw new Llm2ClipError('E_CONFIG', `contextLength must be an integer ≥ 2, got ${this.contextLength}`, { field: 'contextLength' });
    }
    const model = json.model as { unk_token?: unknown } | undefined;
    const unkToken = typeof model?.unk_token === 'string' ? model.unk_token : undefined;
    this.unkTokenId = (unkToken !== undefined ? this.tokenizer.token_to_id(unkToken) : undefined) ?? find(UNK_CANDIDATES);
    let maxId = 0;
    for (const id of this.tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
  }

  /** A tokenizer from a parsed `tokenizer.json`. */
  static fromJson(json: unknown, options: ClipTextTokenizerOptions = {}): ClipTextTokenizer {
    if (typeof json !== 'object' || json === null || typeof (json as { model?: unknown }).model !== 'object') {
      throw new Llm2ClipError('E_FORMAT', 'tokenizer.json has no model section', { field: 'model' });
    }
    return new ClipTextTokenizer(json as Record<string, unknown>, options);
  }

  /** Reads a `tokenizer.json` file (or the one inside a directory). */
  static async fromFile(path: string, options: ClipTextTokenizerOptions = {}): Promise<ClipTextTokenizer> {
    const file = path.endsWith('.json') ? path : join(path, 'tokenizer.json');
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (cause) {
      throw new Llm2ClipError('E_IO', 'cannot read tokenizer.json', { path: file, cause });
    }
    if (typeof json !== 'object' || json === null || typeof (json as { model?: unknown }).model !== 'object') {
      throw new Llm2ClipError('E_FORMAT', 'tokenizer.json has no model section', { path: file, field: 'model' });
    }
    return new ClipTextTokenizer(json as Record<string, unknown>, options, file);
  }

  /** The config fields a matching `ClipTextConfig` needs (`vocab_size`, token ids, context). */
  configFields(): { vocab_size: number; bos_token_id: number; eos_token_id: number; pad_token_id: number; max_position_embeddings: number } {
    return {
      vocab_size: this.vocabSize,
      bos_token_id: this.bosTokenId,
      eos_token_id: this.eosTokenId,
      pad_token_id: this.padTokenId,
      max_position_embeddings: this.contextLength,
    };
  }

  /** Token ids of `text` without special tokens, unknown words mapped to the unk token. */
  tokenIds(text: string): number[] {
    const encoding = this.tokenizer.encode(text, { add_special_tokens: false });
    return encoding.ids.map((id: number | undefined, i: number) => {
      if (id !== undefined && id !== null) return id;
      if (this.unkTokenId === undefined) {
        throw new Llm2ClipError('E_DATA', `token "${encoding.tokens[i]}" is not in the vocabulary and there is no unk token`, { field: 'text' });
      }
      return this.unkTokenId;
    });
  }

  /** `[bos, …, eos, pad…]` of exactly `contextLength` ids; long texts are cut before the eos. */
  encode(text: string): Int32Array {
    const out = new Int32Array(this.contextLength).fill(this.padTokenId);
    this.encodeInto(text, out, 0);
    return out;
  }

  /**
   * Encodes every text into one `batch × length` id buffer. `length` is `contextLength`, or with
   * `trim` the longest encoding of the batch: under the causal mask nothing after a row's end token
   * reaches its pooled output, so trimming the common padding is exact and saves compute.
   */
  encodeBatch(texts: readonly string[], options: { trim?: boolean } = {}): TokenizedBatch {
    const rows = texts.map((text) => this.encode(text));
    const lengths = rows.map((row) => row.indexOf(this.eosTokenId, 1) + 1);
    const length = options.trim === true ? Math.max(2, ...lengths) : this.contextLength;
    const ids = new Int32Array(texts.length * length);
    rows.forEach((row, i) => ids.set(row.subarray(0, length), i * length));
    return { batch: texts.length, length, ids };
  }

  /** {@link encodeBatch} as an int32 tensor `[batch, length]` (caller owns it). */
  encodeToTensor(texts: readonly string[], options: { trim?: boolean } = {}): tf.Tensor2D {
    const { batch, length, ids } = this.encodeBatch(texts, options);
    return tf.tensor2d(ids, [batch, length], 'int32');
  }

  private encodeInto(text: string, out: Int32Array, offset: number): void {
    const content = this.tokenIds(text).slice(0, this.contextLength - 2);
    out[offset] = this.bosTokenId;
    for (let i = 0; i < content.length; i++) out[offset + 1 + i] = content[i];
    out[offset + 1 + content.length] = this.eosTokenId;
  }

  /** Writes the `tokenizer.json` this tokenizer was built from into `dir` (atomically). */
  async save(dir: string): Promise<void> {
    await writeJsonAtomic(join(dir, 'tokenizer.json'), this.json);
  }
}

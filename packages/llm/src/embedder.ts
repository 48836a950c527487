import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  Llm2ClipError,
  embeddingMatrix,
  fingerprint,
  type EmbedOptions,
  type EmbeddingMatrix,
  type ModelDescription,
  type ProgressCallback,
  type Rng,
  type TextEmbedder,
} from '@llm2clip/core';
import { access, stat } from 'node:fs/promises';
import { refusePickleOnlyDirectory } from './model-files.js';
import { resolvePretrained, type HubOptions } from './hub.js';
import { LlamaModel } from './llama-model.js';
import { LoraAdapter } from './lora.js';
import { POOLING_MODES, poolHiddenStates, type PoolingMode } from './pooling.js';
import { LlmTokenizer, type ChatTemplate, type EncodedBatch, type TextInput } from './tokenizer.js';

/** True when any of `paths` exists. */
async function anyExists(paths: readonly string[]): Promise<boolean> {
  for (const path of paths) {
    try {
      await access(path);
      return true;
    } catch {
      // try the next
    }
  }
  return false;
}

/** Options of {@link LlmEmbedder}. */
export interface LlmEmbedderOptions {
  /** How token states are pooled. Default `mean`. */
  pooling?: PoolingMode;
  /** Bidirectional attention over non-padding tokens (LLM2Vec). Default true. */
  bidirectional?: boolean;
  /** Longest input in tokens (longer ones are truncated). Default 512. */
  maxLength?: number;
  /** Instruction put before every plain-string input (excluded from pooling). Default none. */
  instruction?: string;
  /** Name shown by `describe()`. Default: `<model_type>-<hidden>x<layers>`. */
  name?: string;
  /** Padding side. Default `left`. */
  padding?: 'left' | 'right';
}

/** Options of {@link LlmEmbedder.fromPretrained}. */
export interface LlmEmbedderPretrainedOptions extends LlmEmbedderOptions {
  /** Directory (or hub id) of a PEFT LoRA adapter to load on top of the base model. */
  adapter?: string;
  /** Fold the adapter into the base weights (faster inference). Default true. */
  mergeAdapter?: boolean;
  /**
   * Prompt wrapping (see `ChatTemplate`). Default `auto`: the Llama-3 user turn when the
   * tokenizer's `chat_template` is a Llama-3 one, as LLM2Vec does for Llama-3-Instruct models.
   */
  chatTemplate?: ChatTemplate;
  /** Download and load progress: `download` (bytes) and `load` (tensors) events. */
  onProgress?: ProgressCallback;
  /** Hub settings (revision, cache directory, endpoint, token, offline) for hub ids. */
  hub?: Omit<HubOptions, 'onProgress'>;
}

/** Options of {@link LlmEmbedder.embedTensor}. */
export interface EmbedTensorOptions {
  /** Training mode (adapter dropout on). Default false. */
  training?: boolean;
  /** Seeded generator for dropout. */
  rng?: Rng;
}

/**
 * An LLM2Vec-style caption embedder: a Llama-family decoder run with bidirectional attention,
 * token states mean-pooled over the text (instruction tokens excluded). Implements
 * `TextEmbedder`, so the evaluation suite and the embedding cache accept it. The embedder owns
 * the model it is given: `dispose()` frees it.
 *
 * @example
 * ```ts
 * const embedder = await LlmEmbedder.fromPretrained('models/tiny-llama', { adapter: 'runs/cc/adapter' });
 * const vectors = await embedder.embed(['a red cube left of a blue ball'], { batchSize: 32 });
 * embedder.dispose();
 * ```
 */
export class LlmEmbedder implements TextEmbedder {
  /** The decoder. */
  readonly model: LlamaModel;
  /** Its tokenizer. */
  readonly tokenizer: LlmTokenizer;
  /** Resolved options. */
  readonly options: Readonly<Required<Omit<LlmEmbedderOptions, 'instruction'>> & { instruction?: string }>;

  constructor(model: LlamaModel, tokenizer: LlmTokenizer, options: LlmEmbedderOptions = {}) {
    const pooling = options.pooling ?? 'mean';
    if (!POOLING_MODES.includes(pooling)) {
      throw new Llm2ClipError('E_CONFIG', `unknown pooling ${String(pooling)}; expected one of ${POOLING_MODES.join(', ')}`, { field: 'pooling' });
    }
    const maxLength = options.maxLength ?? 512;
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new Llm2ClipError('E_CONFIG', `maxLength must be a positive integer, got ${maxLength}`, { field: 'maxLength' });
    this.model = model;
    this.tokenizer = tokenizer;
    this.options = {
      pooling,
      bidirectional: options.bidirectional ?? true,
      maxLength,
      instruction: options.instruction,
      name: options.name ?? `${model.config.model_type}-${model.config.hidden_size}x${model.config.num_hidden_layers}`,
      padding: options.padding ?? 'left',
    };
  }

  /**
   * Loads an embedder from a Hugging Face model directory, a hub id (downloaded into the Hugging
   * Face cache, see `hubDownload`) or a `.gguf` file (tokenizer from its metadata), with an
   * optional PEFT adapter (merged by default). Mirrors LLM2Vec's `from_pretrained`.
   */
  static async fromPretrained(pathOrId: string, options: LlmEmbedderPretrainedOptions = {}): Promise<LlmEmbedder> {
    const { adapter, mergeAdapter = true, chatTemplate = 'auto', onProgress, hub, ...rest } = options;
    const hubOptions: HubOptions = { ...hub, onProgress };
    const location = await resolvePretrained(pathOrId, 'model', hubOptions);
    let model: LlamaModel;
    let tokenizer: LlmTokenizer;
    if ((await stat(location)).isFile()) {
      const { loadGgufModel } = await import('./gguf-model.js');
      const loaded = await loadGgufModel(location, { onProgress, chatTemplate });
      if (loaded.tokenizer === undefined) {
        loaded.model.dispose();
        throw new Llm2ClipError('E_NOT_FOUND', 'the GGUF file has no tokenizer metadata (tokenizer.ggml.*)', { path: location });
      }
      model = loaded.model;
      tokenizer = loaded.tokenizer;
    } else {
      // a directory of pickle weights only gets the conversion message before anything else
      // (even when the tokenizer files are missing too)
      if (!(await anyExists([join(location, 'model.safetensors'), join(location, 'model.safetensors.index.json')]))) await refusePickleOnlyDirectory(location);
      tokenizer = await LlmTokenizer.fromDirectory(location, { chatTemplate });
      model = await LlamaModel.fromPretrained(location, { onProgress });
    }
    if (adapter !== undefined) {
      try {
        const adapterDir = await resolvePretrained(adapter, 'adapter', hubOptions);
        const lora = await LoraAdapter.loadAdapter(model, adapterDir);
        if (mergeAdapter) lora.merge();
      } catch (error) {
        model.dispose();
        throw error;
      }
    }
    const name = rest.name ?? (adapter !== undefined ? `${basename(pathOrId)}+${basename(adapter)}` : basename(pathOrId));
    return new LlmEmbedder(model, tokenizer, { ...rest, name });
  }

  /** Embedding dimension (the model's hidden size). */
  get dim(): number {
    return this.model.config.hidden_size;
  }

  private withInstruction(input: TextInput): TextInput {
    return typeof input === 'string' && this.options.instruction !== undefined ? [this.options.instruction, input] : input;
  }

  /** Tokenizes and pads inputs with this embedder's instruction, `maxLength` and padding side. */
  encode(inputs: readonly TextInput[]): EncodedBatch {
    return this.tokenizer.encodeBatch(inputs.map((input) => this.withInstruction(input)), { maxLength: this.options.maxLength, padding: this.options.padding });
  }

  /**
   * Pooled embeddings `[batch, hidden]` of an encoded batch, differentiable with respect to the
   * trainable weights (base or LoRA). The caller owns the result.
   */
  embedTensor(batch: EncodedBatch, options: EmbedTensorOptions = {}): tf.Tensor2D {
    return tf.tidy(() => {
      const shape: [number, number] = [batch.batch, batch.length];
      const inputIds = tf.tensor2d(batch.inputIds, shape, 'int32');
      const attentionMask = tf.tensor2d(batch.attentionMask, shape, 'int32');
      const embedMask = tf.tensor2d(batch.embedMask, shape, 'int32');
      const hidden = this.model.forward(inputIds, attentionMask, {
        bidirectional: this.options.bidirectional,
        training: options.training ?? false,
        rng: options.rng,
      });
      return poolHiddenStates(hidden, attentionMask, embedMask, this.options.pooling);
    });
  }

  /**
   * Embeds texts and/or `[instruction, text]` pairs. Inputs are sorted by token length (longest
   * first) so batches carry little padding; rows come back in input order.
   */
  async embed(inputs: readonly TextInput[], options: EmbedOptions = {}): Promise<EmbeddingMatrix> {
    const { batchSize = 32, onProgress } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Llm2ClipError('E_CONFIG', `batchSize must be a positive integer, got ${batchSize}`, { field: 'batchSize' });
    const dim = this.dim;
    const tokenized = inputs.map((input) => this.tokenizer.tokenize(this.withInstruction(input), { maxLength: this.options.maxLength }));
    const order = tokenized.map((_, index) => index).sort((a, b) => tokenized[b].ids.length - tokenized[a].ids.length || a - b);
    const out = new Float32Array(inputs.length * dim);
    for (let start = 0; start < order.length; start += batchSize) {
      const rows = order.slice(start, start + batchSize);
      const batch = this.tokenizer.pad(rows.map((row) => tokenized[row]), { padding: this.options.padding });
      const pooled = this.embedTensor(batch);
      const values = (await pooled.data()) as Float32Array;
      pooled.dispose();
      rows.forEach((row, i) => out.set(values.subarray(i * dim, (i + 1) * dim), row * dim));
      onProgress?.(Math.min(start + batchSize, order.length), order.length);
    }
    return embeddingMatrix(inputs.length, dim, out);
  }

  /** Name and fingerprint of weights (adapter included), config, pooling and input handling. */
  describe(): ModelDescription {
    const adapter = this.model.adapter instanceof LoraAdapter ? this.model.adapter.fingerprint() : null;
    // padding side is left out: it never changes the vectors
    const { pooling, bidirectional, maxLength, instruction } = this.options;
    const details = {
      architecture: this.model.config.model_type,
      hiddenSize: this.model.config.hidden_size,
      layers: this.model.config.num_hidden_layers,
      pooling,
      bidirectional,
      maxLength,
      instruction: instruction ?? null,
      chatTemplate: this.tokenizer.chatTemplate,
    };
    // the chat template enters the hash only when one is applied, so earlier fingerprints hold
    const inputs = { pooling, bidirectional, maxLength, instruction: instruction ?? null, ...(this.tokenizer.chatTemplate === 'none' ? {} : { chatTemplate: this.tokenizer.chatTemplate }) };
    return {
      name: this.options.name,
      fingerprint: fingerprint(this.model.fingerprint(), adapter, this.model.config, inputs),
      details,
    };
  }

  /** Frees the model (and an attached adapter). */
  dispose(): void {
    const adapter = this.model.adapter;
    if (adapter instanceof LoraAdapter) adapter.dispose();
    this.model.dispose();
  }
}

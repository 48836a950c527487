import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Llm2ClipError, Rng, type MetricsLogger, type ProgressCallback } from '@llm2clip/core';
import { barrier } from '@llm2clip/distributed';
import { AdamW, accumulateGradients, clipGradNorm, computeGradients, disposeGradients, softmaxCrossEntropy, warmupLinearSchedule } from '@llm2clip/tensor';
import { LoraAdapter, type LlamaModel, type LlmTokenizer, type LoraOptionsInput, type TokenizedText } from '@llm2clip/llm';
import { LoraSettingsSchema } from './lora-settings.js';
import { BatchCursor } from './batch-cursor.js';
import { lengthGroups } from './length-groups.js';
import { allReduceGradients, assignPasses, broadcastFromRoot, dataParallelGroup, sumOverRanks, type DataParallelGroup } from './data-parallel.js';

/** Name of the MNTP phase in metrics and progress events. */
export const MNTP_PHASE = 'mntp';

/**
 * Mask token LLM2Vec and LLM2CLIP use for Llama, which has no mask token of its own
 * (`mask_token_type: "blank"` → `tokenizer.mask_token = "_"`); it is one token in the Llama-2 and
 * Llama-3 vocabularies.
 */
export const DEFAULT_MNTP_MASK_TOKEN = '_';

/** The plain-JSON settings of {@link trainMntp}, with LLM2Vec's defaults. */
export const MntpConfigSchema = z.object({
  /** Optimizer steps. */
  steps: z.number().int().nonnegative(),
  /** Texts per step. Default 32 (LLM2CLIP's MNTP config). */
  batchSize: z.number().int().positive().default(32),
  /** Peak learning rate. Default 5e-5 (transformers' default, which LLM2CLIP's MNTP config keeps). */
  lr: z.number().positive().default(5e-5),
  /** Linear warm-up steps, then linear decay to 0. Default 0. */
  warmupSteps: z.number().int().nonnegative().default(0),
  /** Longest text in tokens. Default 128. */
  maxLength: z.number().int().min(2).default(128),
  /** Share of (non-special) tokens selected for prediction. Default 0.2 (`mlm_probability`). */
  maskProbability: z.number().gt(0).lt(1).default(0.2),
  /**
   * The token that replaces 80% of the selected tokens: a vocabulary entry or a text that encodes
   * to exactly one id. Default `_` (LLM2Vec's `blank` choice for Llama); pass e.g. `<mask>` or the
   * EOS token's text for LLM2Vec's `mask` / `eos` choices.
   */
  maskToken: z.string().min(1).default(DEFAULT_MNTP_MASK_TOKEN),
  /** Seed of LoRA init, batch order, masking and dropout. Default 0. */
  seed: z.number().int().default(0),
  /** AdamW decoupled weight decay. Default 0. */
  weightDecay: z.number().min(0).default(0),
  /** Global gradient-norm clip (0 = off). Default 1 (transformers' Trainer). */
  maxGradNorm: z.number().min(0).default(1),
  /** Padded tokens per forward pass (gradients are accumulated over passes). Default 2048. */
  tokensPerPass: z.number().int().positive().default(2048),
  /** LoRA settings (r 16, alpha 32, dropout 0.05 on all seven Linear modules, as LLM2CLIP). */
  lora: LoraSettingsSchema,
});

/** Settings of {@link trainMntp} as a caller writes them. */
export type MntpConfig = z.input<typeof MntpConfigSchema>;

/** A batch after masking: model inputs and the labels to predict. */
export interface MaskedBatch {
  /** Input ids `[batch·length]` with the selected tokens masked / replaced. */
  inputIds: Int32Array;
  /** 1 = token, 0 = padding. */
  attentionMask: Int32Array;
  /** The original id at selected positions, −1 elsewhere (PyTorch's −100). */
  labels: Int32Array;
  /** Rows. */
  batch: number;
  /** Padded length. */
  length: number;
  /** Number of selected positions that can be predicted (position > 0). */
  predicted: number;
}

/** Options of {@link maskTokens}. */
export interface MaskTokensOptions {
  /** Share of candidate tokens selected. */
  probability: number;
  /** Id that replaces 80% of the selected tokens. */
  maskTokenId: number;
  /** Random replacements are drawn from `0 … vocabSize−1`. */
  vocabSize: number;
  /** Ids never selected (BOS, EOS, padding: transformers' `special_tokens_mask`). */
  specialIds: ReadonlySet<number>;
  /** Id used for padding. */
  padTokenId: number;
}

/**
 * transformers' `DataCollatorForLanguageModeling` masking as LLM2Vec's MNTP uses it: each
 * non-special, non-padding token is selected with `probability`; a selected token becomes the mask
 * token with probability 0.8, a uniformly random id with 0.1, and stays unchanged with 0.1; its
 * label is the original id (−1 for unselected tokens). Rows are right-padded. Draws from `rng`
 * in row-major order, so the same state gives the same batch.
 */
export function maskTokens(items: readonly TokenizedText[], rng: Rng, options: MaskTokensOptions): MaskedBatch {
  const batch = items.length;
  const length = items.reduce((max, item) => Math.max(max, item.ids.length), 0);
  const inputIds = new Int32Array(batch * length).fill(options.padTokenId);
  const attentionMask = new Int32Array(batch * length);
  const labels = new Int32Array(batch * length).fill(-1);
  let predicted = 0;
  items.forEach((item, row) => {
    item.ids.forEach((id, position) => {
      const at = row * length + position;
      inputIds[at] = id;
      attentionMask[at] = 1;
      if (options.specialIds.has(id) || !rng.bernoulli(options.probability)) return;
      labels[at] = id;
      if (position > 0) predicted += 1;
      const u = rng.float();
      if (u < 0.8) inputIds[at] = options.maskTokenId;
      else if (u < 0.9) inputIds[at] = rng.int(0, options.vocabSize - 1);
    });
  });
  return { inputIds, attentionMask, labels, batch, length, predicted };
}

/**
 * LLM2Vec's masked next-token prediction loss: the decoder runs with bidirectional attention over
 * the masked input, and a selected token at position i is predicted from the logits at position
 * i − 1 (the causal-LM head keeps its shift, which is what makes MNTP fit a decoder). Mean
 * cross-entropy over the selected tokens (a token at position 0 has no predecessor and is not
 * counted). Only the predicted positions go through the LM head. The caller owns the scalar.
 */
export function mntpLoss(model: LlamaModel, masked: MaskedBatch, options: { training?: boolean; rng?: Rng } = {}): tf.Scalar {
  const sources: number[] = [];
  const targets: number[] = [];
  for (let row = 0; row < masked.batch; row++) {
    for (let position = 1; position < masked.length; position++) {
      const label = masked.labels[row * masked.length + position];
      if (label >= 0) {
        sources.push(row * masked.length + position - 1);
        targets.push(label);
      }
    }
  }
  return tf.tidy(() => {
    if (sources.length === 0) return tf.scalar(0);
    const shape: [number, number] = [masked.batch, masked.length];
    const hidden = model.forward(tf.tensor2d(masked.inputIds, shape, 'int32'), tf.tensor2d(masked.attentionMask, shape, 'int32'), {
      bidirectional: true,
      training: options.training,
      rng: options.rng,
    });
    const flat = tf.reshape(hidden, [masked.batch * masked.length, model.config.hidden_size]);
    const logits = model.logits(tf.gather(flat, tf.tensor1d(sources, 'int32'))) as tf.Tensor2D;
    return softmaxCrossEntropy(logits, tf.tensor1d(targets, 'int32'));
  });
}

/** Id of `token` in `tokenizer`: a vocabulary entry, or a text that encodes to one id. */
export function resolveMaskTokenId(tokenizer: LlmTokenizer, token: string): number {
  const direct = tokenizer.tokenizer.token_to_id(token) as number | undefined;
  if (direct !== undefined && direct !== null) return direct;
  const ids = tokenizer.encodeText(token);
  if (ids.length !== 1) {
    throw new Llm2ClipError('E_CONFIG', `mask token ${JSON.stringify(token)} is not one token of this tokenizer (encodes to ${ids.length} ids)`, { field: 'maskToken' });
  }
  return ids[0];
}

/** Options of {@link trainMntp}. */
export interface MntpOptions extends Omit<MntpConfig, 'lora'> {
  /** The decoder; a LoRA adapter is attached for the phase. */
  model: LlamaModel;
  /** Its tokenizer. */
  tokenizer: LlmTokenizer;
  /** Training texts (captions). */
  texts: readonly string[];
  /** LoRA settings (defaults r 16, alpha 32, dropout 0.05, all seven modules). */
  lora?: LoraOptionsInput;
  /** Fold the adapter into the base weights when done (LLM2Vec merges before the contrastive phase). Default true. */
  merge?: boolean;
  /** Write the MNTP adapter (PEFT layout) here before merging. */
  adapterDir?: string;
  /** `base_model_name_or_path` of the written adapter. */
  baseModelNameOrPath?: string;
  /** Progress after each step (`task: 'mntp'`, `unit: 'step'`). */
  onProgress?: ProgressCallback;
  /** Receives one `{ phase: 'mntp', step, loss, lr, gradNorm, tokens, seconds }` record per step. */
  metrics?: MetricsLogger;
  /** The data-parallel process group. Default: `initDistributed()` (a world of one without a launcher). */
  group?: DataParallelGroup;
}

/** What {@link trainMntp} returns. */
export interface MntpResult {
  /** Loss of each step. */
  losses: number[];
  /** The adapter, unless merged (then the model holds its update and it is freed). */
  lora?: LoraAdapter;
  /** Where the adapter was written, if `adapterDir` was given. */
  adapterDir?: string;
}

/**
 * LLM2Vec's masked next-token prediction (MNTP) phase: LoRA on the decoder (base frozen),
 * bidirectional attention, 20% of tokens selected with 80/10/10 masking ({@link maskTokens}),
 * loss {@link mntpLoss}, AdamW with linear warm-up and decay and gradient clipping. It adapts a
 * causal LLM to seeing the whole sequence before the contrastive phase; by default the adapter is
 * merged into the base weights at the end, as LLM2Vec's supervised phase starts from the merged
 * MNTP model. Each step frees its tensors.
 *
 * Data-parallel (every rank calls it with the same options under an MPI launcher): `batchSize` is
 * the global batch; every rank masks the whole batch (same random stream), computes the weighted
 * losses of its share of the passes, and gradients and losses are summed over ranks — each pass's
 * weight is its share of the global count of predicted tokens, so the result is the one-process
 * per-token mean. Rank 0's initial LoRA weights are broadcast; only rank 0 logs, reports progress
 * and writes the adapter.
 */
export async function trainMntp(options: MntpOptions): Promise<MntpResult> {
  const parsed = MntpConfigSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Llm2ClipError('E_CONFIG', `invalid MNTP options: ${issue.message}`, { field: `mntp.${issue.path.map(String).join('.')}` });
  }
  const config = parsed.data;
  const { model, tokenizer, texts, onProgress, metrics } = options;
  if (model.adapter !== undefined) throw new Llm2ClipError('E_STATE', 'the model already has an adapter attached; merge or detach it first', { field: 'model' });
  if (texts.length === 0) throw new Llm2ClipError('E_DATA', 'MNTP needs at least one text', { field: 'texts' });
  const maskTokenId = resolveMaskTokenId(tokenizer, config.maskToken);
  const specialIds = new Set([tokenizer.bosTokenId, tokenizer.eosTokenId, tokenizer.padTokenId].filter((id): id is number => id !== undefined));
  const vocabSize = Math.min(tokenizer.vocabSize, model.config.vocab_size);
  const seeds = new Rng(config.seed);
  const lora = LoraAdapter.attach(model, options.lora ?? config.lora, seeds.fork(1), { baseModelNameOrPath: options.baseModelNameOrPath ?? '' });
  const rng = seeds.fork(2);
  const group = options.group ?? dataParallelGroup();
  const distributed = group.worldSize > 1;
  const cursor = new BatchCursor(texts.length, Math.min(config.batchSize, texts.length), config.seed);
  const schedule = warmupLinearSchedule({ baseLr: config.lr, warmupSteps: config.warmupSteps, totalSteps: config.steps });
  const optimizer = new AdamW({ weightDecay: config.weightDecay });
  const losses: number[] = [];
  const startedAt = performance.now();
  try {
    if (distributed) await broadcastFromRoot(lora.parameters);
    for (let step = 0; step < config.steps; step++) {
      const started = performance.now();
      const items = cursor.next().map((i) => tokenizer.tokenize(texts[i], { maxLength: config.maxLength }));
      const passes = lengthGroups(items, config.tokensPerPass).map((rows) => ({
        masked: maskTokens(rows.map((row) => items[row]), rng, { probability: config.maskProbability, maskTokenId, vocabSize, specialIds, padTokenId: tokenizer.padTokenId }),
        seed: rng.int(0, 0x7fffffff),
      }));
      // every rank masks every pass (same random stream), so `total` is the global count of predicted tokens
      const total = passes.reduce((sum, pass) => sum + pass.masked.predicted, 0);
      let grads = new Map<string, tf.Tensor>();
      let value = 0;
      const mine = distributed ? assignPasses(passes.map((pass) => pass.masked.batch * pass.masked.length), group.worldSize)[group.rank].map((g) => passes[g]) : passes;
      for (const pass of mine) {
        if (pass.masked.predicted === 0) continue;
        const weight = pass.masked.predicted / total;
        const result = computeGradients(lora.parameters, () => tf.mul(mntpLoss(model, pass.masked, { training: true, rng: new Rng(pass.seed) }), weight) as tf.Scalar);
        value += result.loss.dataSync()[0];
        result.loss.dispose();
        accumulateGradients(grads, result.grads);
        disposeGradients(result.grads);
      }
      if (distributed) {
        if (total > 0) grads = await allReduceGradients(lora.parameters, grads);
        [value] = await sumOverRanks([value]);
      }
      const lr = schedule(step);
      let gradNorm = Number.NaN;
      if (grads.size > 0) {
        gradNorm = config.maxGradNorm > 0 ? clipGradNorm(grads, config.maxGradNorm) : Number.NaN;
        optimizer.apply(lora.parameters, grads, lr);
        disposeGradients(grads);
      }
      losses.push(value);
      const tokens = items.reduce((sum, item) => sum + item.ids.length, 0);
      const seconds = (performance.now() - started) / 1000;
      const elapsed = (performance.now() - startedAt) / 1000;
      if (!group.isRoot) continue;
      metrics?.log({ phase: MNTP_PHASE, step: step + 1, loss: value, lr, gradNorm, predicted: total, tokens, seconds });
      onProgress?.({
        task: MNTP_PHASE,
        done: step + 1,
        total: config.steps,
        unit: 'step',
        values: { loss: value, lr, 'tok/s': Math.round(tokens / seconds), eta_s: Math.round((elapsed / (step + 1)) * (config.steps - step - 1)) },
      });
    }
    let adapterDir: string | undefined;
    if (options.adapterDir !== undefined) {
      if (group.isRoot) await lora.saveAdapter(options.adapterDir);
      if (distributed) await barrier();
      adapterDir = options.adapterDir;
    }
    if (options.merge ?? true) {
      lora.merge();
      return { losses, adapterDir };
    }
    return { losses, lora, adapterDir };
  } catch (error) {
    lora.dispose();
    throw error;
  } finally {
    optimizer.dispose();
  }
}

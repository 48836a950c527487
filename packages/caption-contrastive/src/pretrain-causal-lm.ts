import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Llm2ClipError, type MetricsLogger, type ProgressCallback } from '@llm2clip/core';
import { AdamW, accumulateGradients, clipGradNorm, computeGradients, disposeGradients, warmupLinearSchedule } from '@llm2clip/tensor';
import { causalLmLoss, type LlamaModel, type LlmTokenizer } from '@llm2clip/llm';
import { BatchCursor } from './batch-cursor.js';
import { lengthGroups } from './length-groups.js';

/** The plain-JSON settings of {@link pretrainCausalLm}, with defaults. */
export const CausalLmPretrainConfigSchema = z.object({
  /** Optimizer steps. */
  steps: z.number().int().nonnegative(),
  /** Texts per step. Default 16. */
  batchSize: z.number().int().positive().default(16),
  /** Peak learning rate. Default 1e-3. */
  lr: z.number().positive().default(1e-3),
  /** Linear warm-up steps, then linear decay to 0. Default 0. */
  warmupSteps: z.number().int().nonnegative().default(0),
  /** Longest text in tokens. Default 128. */
  maxLength: z.number().int().min(2).default(128),
  /** Seed of the batch order. Default 0. */
  seed: z.number().int().default(0),
  /** AdamW decoupled weight decay. Default 0. */
  weightDecay: z.number().min(0).default(0),
  /** Global gradient-norm clip (0 = off). Default 1. */
  maxGradNorm: z.number().min(0).default(1),
  /** Padded tokens per forward pass; a step's texts are split by length and gradients accumulated. Default 2048. */
  tokensPerPass: z.number().int().positive().default(2048),
});

/** Settings of {@link pretrainCausalLm} as a caller writes them. */
export type CausalLmPretrainConfig = z.input<typeof CausalLmPretrainConfigSchema>;

/** Options of {@link pretrainCausalLm}. */
export interface CausalLmPretrainOptions extends CausalLmPretrainConfig {
  /** The decoder to train (all base weights). */
  model: LlamaModel;
  /** Its tokenizer. */
  tokenizer: LlmTokenizer;
  /** Training texts (e.g. every caption of the dataset). */
  texts: readonly string[];
  /** Progress after each step (`task: 'clm'`, `unit: 'step'`). */
  onProgress?: ProgressCallback;
  /** Receives one `{ phase: 'clm', step, loss, lr, gradNorm }` record per step. */
  metrics?: MetricsLogger;
}

/** What {@link pretrainCausalLm} returns. */
export interface CausalLmPretrainResult {
  /** Mean next-token loss of each step. */
  losses: number[];
}

/**
 * Brief causal-LM pretraining of every base weight (next-token cross-entropy, AdamW, linear
 * warm-up then linear decay, gradient clipping), so that a randomly initialised small decoder
 * becomes a language model before stage 1 — the part a real pretrained LLM brings for free.
 * Each step is one gradient tape whose tensors are all freed; nothing leaks across steps.
 */
export async function pretrainCausalLm(options: CausalLmPretrainOptions): Promise<CausalLmPretrainResult> {
  const parsed = CausalLmPretrainConfigSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Llm2ClipError('E_CONFIG', `invalid causal-LM pretraining options: ${issue.message}`, { field: issue.path.map(String).join('.') });
  }
  const config = parsed.data;
  const { model, tokenizer, texts, onProgress, metrics } = options;
  if (model.adapter !== undefined) throw new Llm2ClipError('E_STATE', 'causal-LM pretraining trains the base weights; detach the adapter first', { field: 'model' });
  const cursor = new BatchCursor(texts.length, Math.min(config.batchSize, texts.length), config.seed);
  const schedule = warmupLinearSchedule({ baseLr: config.lr, warmupSteps: config.warmupSteps, totalSteps: config.steps });
  const optimizer = new AdamW({ weightDecay: config.weightDecay });
  model.setTrainable(true);
  const losses: number[] = [];
  try {
    for (let step = 0; step < config.steps; step++) {
      const started = performance.now();
      const items = cursor.next().map((i) => tokenizer.tokenize(texts[i], { maxLength: config.maxLength }));
      // each row predicts ids.length − 1 next tokens; passes are weighted by their share of them
      const totalPairs = items.reduce((sum, item) => sum + Math.max(0, item.ids.length - 1), 0);
      const grads = new Map<string, tf.Tensor>();
      let value = 0;
      for (const rows of lengthGroups(items, config.tokensPerPass)) {
        const pairs = rows.reduce((sum, row) => sum + Math.max(0, items[row].ids.length - 1), 0);
        if (pairs === 0) continue;
        const batch = tokenizer.pad(rows.map((row) => items[row]), { padding: 'right' });
        const shape: [number, number] = [batch.batch, batch.length];
        const inputIds = tf.tensor2d(batch.inputIds, shape, 'int32');
        const attentionMask = tf.tensor2d(batch.attentionMask, shape, 'int32');
        const weight = pairs / totalPairs;
        const pass = computeGradients(model.parameters, () => tf.mul(causalLmLoss(model, inputIds, attentionMask), weight) as tf.Scalar);
        value += pass.loss.dataSync()[0];
        accumulateGradients(grads, pass.grads);
        disposeGradients(pass.grads);
        tf.dispose([pass.loss, inputIds, attentionMask]);
      }
      if (grads.size === 0) throw new Llm2ClipError('E_DATA', 'a causal-LM batch has no token to predict (texts shorter than two tokens)', { field: 'texts' });
      const gradNorm = config.maxGradNorm > 0 ? clipGradNorm(grads, config.maxGradNorm) : Number.NaN;
      const lr = schedule(step);
      optimizer.apply(model.parameters, grads, lr);
      disposeGradients(grads);
      losses.push(value);
      const seconds = (performance.now() - started) / 1000;
      metrics?.log({ phase: 'clm', step: step + 1, loss: value, lr, gradNorm, seconds });
      onProgress?.({ task: 'clm', done: step + 1, total: config.steps, unit: 'step', values: { loss: value, lr } });
    }
  } finally {
    optimizer.dispose();
  }
  return { losses };
}

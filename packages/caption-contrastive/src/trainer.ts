import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Llm2ClipError, Rng, type MetricsLogger, type ProgressCallback, type TextEmbedder } from '@llm2clip/core';
import {
  AdamW,
  checkpointDirName,
  clipGradNorm,
  disposeGradients,
  latestCheckpoint,
  removeCheckpointLeftovers,
  loadCheckpoint,
  saveCheckpoint,
  warmupLinearSchedule,
} from '@llm2clip/tensor';
import { LlmEmbedder, LoraAdapter, POOLING_MODES, type LlamaModel, type LlmTokenizer, type LoraOptionsInput, type PoolingMode, type TextInput } from '@llm2clip/llm';
import { LoraSettingsSchema } from './lora-settings.js';
import { BatchCursor, type BatchCursorState } from './batch-cursor.js';
import { captionContrastiveLoss, DEFAULT_CC_SCALE } from './cc-loss.js';
import { contrastiveGradients } from './grad-cache.js';
import { barrier } from '@llm2clip/distributed';
import { allReduceGradients, broadcastFromRoot, dataParallelGroup, requireSameStartStep, rowBlock, sumOverRanks, type DataParallelGroup } from './data-parallel.js';
import { distributedContrastiveGradients } from './distributed-grad-cache.js';
import { localCaptionContrastiveLoss } from './local-loss.js';
import { writeEmbedderConfig } from './llm2vec-config.js';
import { MixedBatchCursor } from './mixed-batches.js';
import { captionTriples, type CaptionedSample, type CaptionTriple } from './pairs.js';
import type { TextPairSource } from './text-pairs.js';

/**
 * LLM2CLIP's instructions for its caption pairs (`E5_EMBEDDING_PROMPTS["cc3m"]` in
 * `llm_caption_contrastive/dataset/E5_cc3m.py`), each followed by `;` as its query format
 * `f"{instruction}; " + query` puts it. The command-line default; the library default is none.
 */
export const LLM2CLIP_CAPTION_INSTRUCTIONS = {
  shortToLong: 'Given a sentence, retrieve a detailed relevant sentence;',
  longToShort: 'Given a detailed sentence, retrieve a short relevant sentence;',
} as const;

/** Name of the phase in metrics, progress events and checkpoints. */
export const STAGE1_PHASE = 'stage1';

/** The plain-JSON settings of {@link trainCaptionContrastive}, with defaults. */
export const CaptionContrastiveConfigSchema = z.object({
  /** LoRA settings: r 16, alpha 32, dropout 0.05, all seven Linear modules. */
  lora: LoraSettingsSchema,
  /** Optimizer steps in total (a resumed run continues up to this). */
  steps: z.number().int().nonnegative(),
  /** Images (triples) per step. Default 32. */
  batchSize: z.number().int().positive().default(32),
  /** Peak learning rate. Default 2e-4. */
  lr: z.number().positive().default(2e-4),
  /** Linear warm-up steps, then linear decay to 0. Default 300 (LLM2CLIP's `warmup_steps`). */
  warmupSteps: z.number().int().nonnegative().default(300),
  /** Longest caption in tokens. Default 128. */
  maxLength: z.number().int().min(2).default(128),
  /** Scores are `scale · cosine`. Default 50. */
  scale: z.number().positive().default(DEFAULT_CC_SCALE),
  /**
   * Probability that a short→long pair is used the other way round (long query, short document).
   * Default 0.5, as LLM2CLIP trains both directions; 0 keeps short queries and long documents.
   */
  swapProbability: z.number().min(0).max(1).default(0.5),
  /** Instruction put before queries (excluded from pooling); documents get none. */
  instruction: z.string().optional(),
  /**
   * Per-direction instructions of short/long caption pairs (LLM2CLIP uses one for short→long and
   * one for long→short queries, see {@link LLM2CLIP_CAPTION_INSTRUCTIONS}); they take precedence
   * over `instruction` for pairs whose direction is known.
   */
  directionInstructions: z.object({ shortToLong: z.string().min(1), longToShort: z.string().min(1) }).optional(),
  /** Pooling of the embedder being trained. Default `mean`. */
  pooling: z.enum(POOLING_MODES as [PoolingMode, ...PoolingMode[]]).default('mean'),
  /** Seed of LoRA init, batch order, pair sampling and dropout. Default 0. */
  seed: z.number().int().default(0),
  /** AdamW decoupled weight decay. Default 0 (as transformers' Trainer). */
  weightDecay: z.number().min(0).default(0),
  /** Global gradient-norm clip (0 = off). Default 1. */
  maxGradNorm: z.number().min(0).default(1),
  /**
   * Padded tokens per forward pass: the 3·batchSize captions of a step are sorted by length and
   * run in passes of at most this many tokens (GradCache keeps one pass's activations alive).
   * Default 2048.
   */
  tokensPerPass: z.number().int().positive().default(2048),
  /** Write a checkpoint every this many steps (0 = only at the end / on abort). Needs `runDir`. Default 0. */
  checkpointEvery: z.number().int().nonnegative().default(0),
  /** Checkpoints kept (newest). Default 2. */
  keepCheckpoints: z.number().int().positive().default(2),
  /** `base_model_name_or_path` written into `adapter_config.json`. Default `''`. */
  baseModelNameOrPath: z.string().default(''),
});

/** Settings of {@link trainCaptionContrastive} as a caller writes them. */
export type CaptionContrastiveConfig = z.input<typeof CaptionContrastiveConfigSchema>;

/** A periodic caption-retrieval evaluation during stage 1 (e.g. `@llm2clip/eval`'s `evaluateCra`). */
export interface CraEvalHook {
  /** Run after every this many steps (and after the last). */
  every: number;
  /** Also evaluate before the first step (logged as step 0; not repeated on resume). Default true. */
  before?: boolean;
  /** Scores the embedder being trained; a number or an object with `cra` (percent). */
  evaluate: (embedder: TextEmbedder, step: number) => Promise<number | { cra: number }>;
}

/** Options of {@link trainCaptionContrastive}. */
export interface CaptionContrastiveOptions extends Omit<CaptionContrastiveConfig, 'lora'> {
  /** The base decoder; a LoRA adapter is attached to it and its base weights are frozen. */
  model: LlamaModel;
  /** Its tokenizer. */
  tokenizer: LlmTokenizer;
  /** Training images with at least two captions each (`captionKinds` short/long used when present). */
  samples: readonly CaptionedSample[];
  /**
   * Text-pair sources mixed into training (LLM2Vec's E5 data): every batch holds items of one
   * source only — the captions or one of these — as the official `E5Data` batches them.
   */
  textPairs?: readonly TextPairSource[];
  /** LoRA settings (defaults r 16, alpha 32, dropout 0.05). */
  lora?: LoraOptionsInput;
  /** Run directory: checkpoints under `checkpoints/`, the final adapter under `adapter/`. */
  runDir?: string;
  /** Resume from the newest checkpoint under `runDir/checkpoints` (true) or from this checkpoint directory. */
  resume?: boolean | string;
  /** Stop after the current step when aborted (a checkpoint is written if `runDir` is set). */
  signal?: AbortSignal;
  /** Progress after each step (`task: 'stage1'`, `unit: 'step'`). */
  onProgress?: ProgressCallback;
  /**
   * Receives `{ phase: 'stage1', step, loss, lr, gradNorm, passes, source, tokens, tokensPerSecond,
   * seconds, etaSeconds }` per step and `{ phase: 'stage1-eval', step, cra }` records.
   */
  metrics?: MetricsLogger;
  /** Periodic CRA evaluation. */
  craEval?: CraEvalHook;
  /** Recorded in the adapter's `llm2clip_embedder.json`: an MNTP adapter was merged into `model` first. */
  mntpMerged?: boolean;
  /**
   * Called on every rank after each step (after its checkpoint), with the step number and the
   * process group — unlike `onProgress`, `metrics` and `craEval`, which run on rank 0 only.
   */
  onStep?: (step: number, group: DataParallelGroup) => void | Promise<void>;
  /** The data-parallel process group. Default: `initDistributed()` (a world of one without a launcher). */
  group?: DataParallelGroup;
}

/** What {@link trainCaptionContrastive} returns. */
export interface CaptionContrastiveResult {
  /** The trained adapter, attached (unmerged) to the model. */
  lora: LoraAdapter;
  /** An embedder over the model with the adapter (bidirectional, the configured pooling). */
  embedder: LlmEmbedder;
  /** Loss of each step run in this call. */
  losses: number[];
  /** Steps already done when this call started (non-zero when resumed). */
  startStep: number;
  /** Steps done when this call returned (`steps` unless aborted). */
  endStep: number;
  /** Directory of the PEFT adapter, when `runDir` was given and the run finished. */
  adapterDir?: string;
  /** The newest checkpoint written, if any (rank 0 writes checkpoints; other ranks report none). */
  checkpoint?: string;
  /** Rank and world size of the run. */
  group: DataParallelGroup;
}

interface Stage1Cursor {
  batches: BatchCursorState;
  /** True when the cursor is a {@link MixedBatchCursor} (text pairs mixed in). */
  mixed?: boolean;
}

/** The training inputs of one step: queries, positives and hard negatives, row-aligned. */
interface StepBatch {
  source: string;
  queries: TextInput[];
  positives: string[];
  negatives: string[];
}

function queryOf(triple: CaptionTriple, instruction: string | undefined, directions: { shortToLong: string; longToShort: string } | undefined): TextInput {
  const chosen =
    directions !== undefined && triple.direction === 'short-to-long'
      ? directions.shortToLong
      : directions !== undefined && triple.direction === 'long-to-short'
        ? directions.longToShort
        : instruction;
  return chosen !== undefined ? [chosen, triple.query] : triple.query;
}

/**
 * Stage 1 of LLM2CLIP: caption-contrastive fine-tuning of the LLM as an embedder. Attaches LoRA
 * to `model` (base frozen), runs bidirectional attention with pooling, and minimises
 * {@link captionContrastiveLoss} over triples (query caption, another caption of the same image,
 * a same-kind caption of another image) with AdamW, linear warm-up and linear decay on the LoRA
 * weights only. Queries carry `instruction` (excluded from pooling); documents do not.
 *
 * Checkpoints (LoRA weights, optimizer moments, RNG state, data cursor) are written atomically
 * via `@llm2clip/tensor`'s `saveCheckpoint`; `resume` continues bit-exactly, as if the run had
 * never stopped. Every step is one gradient tape whose intermediates are freed.
 *
 * Data-parallel: under an MPI launcher (`mpirun`, `srun`; see `@llm2clip/distributed`) every rank
 * runs this function with the same options. `batchSize` stays the global batch: every rank builds
 * the same batch, embeds only its share of the forward passes, and the loss is open_clip's
 * `local_loss` over gathered embeddings; gradients are summed over ranks, so the run matches a
 * one-process run with the same settings (to float rounding). The initial LoRA weights come from
 * rank 0; only rank 0 writes checkpoints, metrics, progress, CRA and the adapter. Checkpoints do not
 * depend on the world size, so a run can resume on another number of ranks.
 */
export async function trainCaptionContrastive(options: CaptionContrastiveOptions): Promise<CaptionContrastiveResult> {
  const parsed = CaptionContrastiveConfigSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Llm2ClipError('E_CONFIG', `invalid stage-1 options: ${issue.message}`, { field: issue.path.map(String).join('.') });
  }
  const config = parsed.data;
  const { model, tokenizer, samples, runDir, onProgress, metrics, craEval, signal } = options;
  if (model.adapter !== undefined) throw new Llm2ClipError('E_STATE', 'the model already has an adapter attached; merge or detach it first', { field: 'model' });
  if ((config.checkpointEvery > 0 || options.resume === true) && runDir === undefined) {
    throw new Llm2ClipError('E_CONFIG', 'checkpointing and resume need runDir', { field: 'runDir' });
  }
  if (craEval !== undefined && !(Number.isInteger(craEval.every) && craEval.every > 0)) {
    throw new Llm2ClipError('E_CONFIG', `craEval.every must be a positive integer, got ${craEval.every}`, { field: 'craEval.every' });
  }
  const group = options.group ?? dataParallelGroup();
  const distributed = group.worldSize > 1;
  const textPairs = (options.textPairs ?? []).filter((source) => source.pairs.length > 0);
  const mixed = textPairs.length > 0;
  const batchSize = mixed ? config.batchSize : Math.min(config.batchSize, samples.length);
  const checkpointsDir = runDir !== undefined ? join(runDir, 'checkpoints') : undefined;
  const seeds = new Rng(config.seed);
  const lora = LoraAdapter.attach(model, options.lora ?? config.lora, seeds.fork(1), { baseModelNameOrPath: config.baseModelNameOrPath });
  const trainerFacts = {
    phase: STAGE1_PHASE,
    steps: config.steps,
    samples: samples.length,
    batchSize,
    lr: config.lr,
    warmupSteps: config.warmupSteps,
    maxLength: config.maxLength,
    scale: config.scale,
    seed: config.seed,
    pooling: config.pooling,
    instruction: config.instruction ?? null,
    lora: lora.options,
    worldSize: group.worldSize,
    ...(mixed ? { sources: [samples.length, ...textPairs.map((source) => source.pairs.length)].join(',') } : {}),
  };
  let rng = seeds.fork(2);
  let cursorState: BatchCursorState = { epoch: 0, position: 0 };
  let startStep = 0;
  const optimizer = new AdamW({ weightDecay: config.weightDecay });
  try {
    // what a job killed mid-save or mid-prune left behind (a resume at the last step saves nothing more)
    if (options.resume === true && checkpointsDir !== undefined && group.isRoot) await removeCheckpointLeftovers(checkpointsDir);
    const resumeFrom = typeof options.resume === 'string' ? options.resume : options.resume === true && checkpointsDir !== undefined ? await latestCheckpoint(checkpointsDir) : undefined;
    if (resumeFrom !== undefined) {
      const checkpoint = await loadCheckpoint(resumeFrom);
      const saved = checkpoint.trainer as Partial<typeof trainerFacts>;
      for (const key of ['phase', 'samples', 'batchSize', 'seed', 'pooling', 'maxLength', 'sources'] as const) {
        if (saved[key] !== trainerFacts[key]) {
          throw new Llm2ClipError('E_MISMATCH', `checkpoint has ${key} ${JSON.stringify(saved[key])}, this run ${JSON.stringify(trainerFacts[key])}`, { path: resumeFrom, field: key });
        }
      }
      lora.parameters.loadHost(checkpoint.weights, { path: resumeFrom });
      if (checkpoint.optimizer !== undefined) optimizer.importState(checkpoint.optimizer);
      if (checkpoint.rng === undefined) throw new Llm2ClipError('E_FORMAT', 'checkpoint lacks the RNG state', { path: resumeFrom, field: 'rng' });
      rng = Rng.fromState(checkpoint.rng);
      const savedCursor = checkpoint.cursor as Stage1Cursor;
      if ((savedCursor.mixed ?? false) !== mixed) {
        throw new Llm2ClipError('E_MISMATCH', `checkpoint was written ${mixed ? 'without' : 'with'} text-pair sources`, { path: resumeFrom, field: 'textPairs' });
      }
      cursorState = savedCursor.batches;
      startStep = checkpoint.step;
    }
    if (distributed) {
      await requireSameStartStep(startStep, resumeFrom);
      // rank 0's weights everywhere: the initial LoRA A (each rank drew the same from the seed; this makes sure)
      await broadcastFromRoot(lora.parameters);
    }
    const cursor = mixed
      ? new MixedBatchCursor([samples.length, ...textPairs.map((source) => source.pairs.length)], batchSize, config.seed, cursorState)
      : new BatchCursor(samples.length, batchSize, config.seed, cursorState);
    const nextBatch = (): StepBatch => {
      const { source, indices } = cursor instanceof MixedBatchCursor ? cursor.next() : { source: 0, indices: cursor.next() };
      if (source === 0) {
        const triples = captionTriples(samples, indices, rng, config.swapProbability);
        return {
          source: 'captions',
          queries: triples.map((t) => queryOf(t, config.instruction, config.directionInstructions)),
          positives: triples.map((t) => t.positive),
          negatives: triples.map((t) => t.hardNegative),
        };
      }
      const { name, pairs, instruction } = textPairs[source - 1];
      const rows = indices.map((i) => pairs[i]);
      return {
        source: name,
        queries: rows.map((row) => (instruction !== undefined ? [instruction, row.query] : row.query)),
        positives: rows.map((row) => row.positive),
        negatives: rows.map((row) => row.negative),
      };
    };
    const embedder = new LlmEmbedder(model, tokenizer, { pooling: config.pooling, bidirectional: true, maxLength: config.maxLength, name: 'stage1' });
    const schedule = warmupLinearSchedule({ baseLr: config.lr, warmupSteps: config.warmupSteps, totalSteps: config.steps });
    const losses: number[] = [];
    let step = startStep;
    let lastCheckpoint: string | undefined;
    const checkpoint = async (): Promise<void> => {
      if (!group.isRoot) return;
      if (checkpointsDir === undefined || lastCheckpoint?.endsWith(checkpointDirName(step)) === true) return;
      lastCheckpoint = await saveCheckpoint(
        checkpointsDir,
        {
          step,
          weights: lora.parameters.toHost(),
          optimizer: optimizer.exportState(),
          rng: rng.getState(),
          cursor: { batches: cursor.state(), mixed } satisfies Stage1Cursor,
          trainer: trainerFacts,
        },
        { keep: config.keepCheckpoints },
      );
    };
    const evaluate = async (): Promise<void> => {
      if (craEval === undefined || !group.isRoot) return;
      const score = await craEval.evaluate(embedder, step);
      metrics?.log({ phase: `${STAGE1_PHASE}-eval`, step, cra: typeof score === 'number' ? score : score.cra });
    };
    if (craEval !== undefined && (craEval.before ?? true) && startStep === 0) await evaluate();
    const loopStarted = performance.now();
    while (step < config.steps) {
      const started = performance.now();
      const batch = nextBatch();
      const items = [...batch.queries, ...batch.positives, ...batch.negatives].map((input) => tokenizer.tokenize(input, { maxLength: config.maxLength }));
      const tokens = items.reduce((sum, item) => sum + item.ids.length, 0);
      const lossOfEmbeddings = (embeddings: tf.Tensor2D): tf.Scalar => {
        const [q, p, n] = tf.split(embeddings, 3, 0) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        return captionContrastiveLoss(q, p, n, config.scale);
      };
      let value: number;
      let grads: Map<string, tf.Tensor>;
      let passes: number;
      if (!distributed) {
        ({ loss: value, grads, passes } = contrastiveGradients(lora.parameters, embedder, items, lossOfEmbeddings, { tokensPerPass: config.tokensPerPass, training: true, rng }));
      } else {
        // open_clip's local_loss: this rank's block of queries against every rank's documents
        const rowsPerPart = batch.queries.length;
        const block = rowBlock(rowsPerPart, group.rank, group.worldSize);
        const localLoss = (embeddings: tf.Tensor2D): tf.Scalar =>
          tf.tidy(() => {
            const queries = tf.slice(embeddings, [block.start, 0], [block.count, -1]) as tf.Tensor2D;
            const documents = tf.slice(embeddings, [rowsPerPart, 0], [2 * rowsPerPart, -1]) as tf.Tensor2D;
            return localCaptionContrastiveLoss(queries, documents, block.start, rowsPerPart, config.scale);
          });
        const local = distributedContrastiveGradients(lora.parameters, embedder, items, localLoss, { tokensPerPass: config.tokensPerPass, training: true, rng, group });
        passes = local.passes;
        grads = await allReduceGradients(lora.parameters, local.grads);
        [value] = await sumOverRanks([local.loss]);
      }
      const gradNorm = config.maxGradNorm > 0 ? clipGradNorm(grads, config.maxGradNorm) : Number.NaN;
      const lr = schedule(step);
      optimizer.apply(lora.parameters, grads, lr);
      disposeGradients(grads);
      losses.push(value);
      step += 1;
      const seconds = (performance.now() - started) / 1000;
      const tokensPerSecond = tokens / seconds;
      // ETA from the mean step time of this call (checkpoint and eval time included)
      const etaSeconds = ((performance.now() - loopStarted) / 1000 / (step - startStep)) * (config.steps - step);
      if (group.isRoot) {
        metrics?.log({ phase: STAGE1_PHASE, step, loss: value, lr, gradNorm, passes, source: batch.source, tokens, tokensPerSecond, seconds, etaSeconds, ...(distributed ? { worldSize: group.worldSize } : {}) });
        onProgress?.({
          task: STAGE1_PHASE,
          done: step,
          total: config.steps,
          unit: 'step',
          values: { loss: value, lr, 'tok/s': Math.round(tokensPerSecond), eta_s: Math.round(etaSeconds) },
        });
      }
      if (config.checkpointEvery > 0 && step % config.checkpointEvery === 0) await checkpoint();
      if (craEval !== undefined && (step % craEval.every === 0 || step === config.steps)) await evaluate();
      await options.onStep?.(step, group);
      // an abort reaches ranks at different times: all ranks stop after the same step when any saw it
      const stop = distributed ? (await sumOverRanks([signal?.aborted === true ? 1 : 0]))[0] > 0 : signal?.aborted === true;
      if (stop) break;
    }
    if (step > startStep || resumeFrom === undefined) await checkpoint();
    let adapterDir: string | undefined;
    if (runDir !== undefined && step >= config.steps) {
      adapterDir = join(runDir, 'adapter');
      if (group.isRoot) await writeAdapter(adapterDir);
    }
    // no rank returns before rank 0 has written what it reports
    if (distributed) await barrier();
    return { lora, embedder, losses, startStep, endStep: step, adapterDir, checkpoint: lastCheckpoint, group };
  } catch (error) {
    lora.dispose();
    throw error;
  } finally {
    optimizer.dispose();
  }

  /** The PEFT adapter and the embedder configs (rank 0). */
  async function writeAdapter(adapterDir: string): Promise<void> {
    await lora.saveAdapter(adapterDir);
    await writeEmbedderConfig(adapterDir, {
      pooling: config.pooling,
      maxLength: config.maxLength,
      bidirectional: true,
      instruction: config.instruction ?? null,
      directionInstructions: config.directionInstructions ?? null,
      baseModelNameOrPath: config.baseModelNameOrPath,
      mntpMerged: options.mntpMerged ?? false,
    });
  }
}

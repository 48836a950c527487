import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  JsonlMetricsLogger,
  Rng,
  fingerprint,
  silentProgress,
  type ProgressCallback,
  type Sample,
  type TextEmbedder,
} from '@llm2clip/core';
import { initBackend } from '@llm2clip/tensor';
import { openSyntheticSplit, writeSyntheticDataset } from '@llm2clip/data';
import { LlamaModel, LlmEmbedder, LlmTokenizer, type LlamaConfigInput } from '@llm2clip/llm';
import { pretrainCausalLm, trainCaptionContrastive } from '@llm2clip/caption-contrastive';
import { ClipTextModel, ClipTextTokenizer, ClipVisionModel } from '@llm2clip/vision';
import { EmbeddingCache, embedCaptions, loadClipModel, trainClip, type TrainedClipModel } from '@llm2clip/clip-trainer';
import {
  craCaptionPairs,
  craReportRows,
  createReport,
  evaluateCra,
  evaluateRetrievalByKind,
  readReport,
  reportModel,
  retrievalReportRows,
  writeReport,
  type Report,
  type ReportModel,
  type ReportResult,
} from '@llm2clip/eval';
import type { PipelineConfig } from './config.js';
import { PipelineStateFile, type PipelineStep, type StepRecord } from './pipeline-state.js';
import { headlineRows, renderHeadlineTable, type HeadlineRow } from './headline-table.js';

/** Options of {@link runSyntheticPipeline}. */
export interface RunPipelineOptions {
  /** Run directory; everything is written below it. */
  runDir: string;
  /** The configuration (see `resolvePipelineConfig`). */
  config: PipelineConfig;
  /** Delete `runDir` first instead of resuming it. */
  fresh?: boolean;
  /** Progress of every long step. */
  onProgress?: ProgressCallback;
  /** One line per step start/end and headline numbers. */
  log?: (line: string) => void;
}

/** What a pipeline run produced. */
export interface PipelineSummary {
  runDir: string;
  /** `report.json` path. */
  reportPath: string;
  /** The headline table plus the path of the full `report.md`. */
  markdown: string;
  /** The report. */
  report: Report;
  /** Headline numbers per model. */
  headline: HeadlineRow[];
  /** Wall time of this call in seconds. */
  wallSeconds: number;
  /** Seconds per step as recorded when each finished (possibly in an earlier call). */
  stepSeconds: Partial<Record<PipelineStep, number>>;
  /** Tensor backend used. */
  backend: string;
}

const MODEL_LABELS: Record<string, string> = {
  'llm-before-stage1': 'LLM after causal-LM pretraining (bidirectional, mean pooling), before stage 1',
  'llm-after-stage1': 'LLM after stage 1 (caption-contrastive LoRA)',
  llm2clip: 'LLM2CLIP: ViT taught by the stage-1 LLM (+ adapter)',
  baseline: 'Baseline: ViT + 77-token CLIP text tower',
};

async function collect(source: AsyncIterable<Sample>): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const sample of source) out.push(sample);
  return out;
}

function llmConfig(config: PipelineConfig, tokenizer: LlmTokenizer): LlamaConfigInput {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: tokenizer.vocabSize,
    hidden_size: config.llm.hidden_size,
    intermediate_size: config.llm.intermediate_size,
    num_hidden_layers: config.llm.num_hidden_layers,
    num_attention_heads: config.llm.num_attention_heads,
    num_key_value_heads: config.llm.num_key_value_heads,
    max_position_embeddings: Math.max(256, config.llm.maxLength),
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: true,
    attention_bias: false,
    hidden_act: 'silu',
    bos_token_id: tokenizer.bosTokenId,
    eos_token_id: tokenizer.eosTokenId,
    pad_token_id: tokenizer.padTokenId,
    torch_dtype: 'float32',
  };
}

/**
 * Runs LLM2CLIP end to end on synthetic data, resumably: data → causal-LM pretraining → stage 1
 * (caption-contrastive LoRA, CRA before/after) → caption embedding cache → stage 2 for LLM2CLIP
 * and for the 77-token CLIP baseline → retrieval evaluation on the held-out split → report.
 */
export async function runSyntheticPipeline(options: RunPipelineOptions): Promise<PipelineSummary> {
  const started = performance.now();
  const { runDir, config } = options;
  const onProgress = options.onProgress ?? silentProgress;
  const log = options.log ?? (() => {});
  if (options.fresh) await rm(runDir, { recursive: true, force: true });
  await mkdir(runDir, { recursive: true });

  const backend = await initBackend({ backend: config.backend, log });
  const state = await PipelineStateFile.open(runDir, fingerprint(config));
  const metrics = new JsonlMetricsLogger(join(runDir, 'metrics.jsonl'));
  const seeds = new Rng(config.seed);
  const seedOf = (label: number) => seeds.fork(label).int(0, 0x7fffffff);

  const step = async (name: PipelineStep, run: () => Promise<StepRecord>): Promise<StepRecord> => {
    const done = state.get(name);
    if (done !== undefined) {
      log(`[${name}] already complete (${done.seconds.toFixed(0)} s), skipping`);
      return done;
    }
    log(`[${name}] starting`);
    const t0 = performance.now();
    const record = await run();
    const seconds = (performance.now() - t0) / 1000;
    await state.complete(name, record, seconds);
    log(`[${name}] done in ${seconds.toFixed(1)} s ${JSON.stringify(record)}`);
    return record;
  };

  // 1. data: webdataset shards + tokenizer.json, read back through the same reader as user data
  const dataDir = join(runDir, 'data');
  await step('data', async () => {
    const info = await writeSyntheticDataset(dataDir, {
      seed: config.seed,
      trainSamples: config.data.trainSamples,
      testSamples: config.data.testSamples,
      imageSize: config.data.imageSize,
      samplesPerShard: config.data.samplesPerShard,
      onProgress,
    });
    return { train: info.splits.train.samples, test: info.splits.test.samples };
  });
  const trainSamples = await collect((await openSyntheticSplit(dataDir, 'train')).samples());
  const testSamples = await collect((await openSyntheticSplit(dataDir, 'test')).samples());
  const { pairs: craPairs } = await craCaptionPairs(testSamples);
  const tokenizer = await LlmTokenizer.fromDirectory(dataDir);
  const maxLength = config.llm.maxLength;
  const embedderOptions = { pooling: 'mean' as const, bidirectional: true, maxLength };

  // 2. causal-LM pretraining, so stage 1 starts from a language model
  const llmBaseDir = join(runDir, 'llm-base');
  const clm = await step('clm', async () => {
    const model = LlamaModel.create(llmConfig(config, tokenizer), new Rng(seedOf(1)));
    try {
      const texts = trainSamples.flatMap((s) => s.captions);
      const result = await pretrainCausalLm({
        model,
        tokenizer,
        texts,
        steps: config.clm.steps,
        batchSize: config.clm.batchSize,
        lr: config.clm.lr,
        warmupSteps: config.clm.warmupSteps,
        maxLength,
        seed: seedOf(2),
        onProgress,
        metrics,
      });
      await model.save(llmBaseDir);
      for (const file of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(join(dataDir, file), join(llmBaseDir, file));
      const before = await evaluateCra(new LlmEmbedder(model, tokenizer, { ...embedderOptions, name: 'llm-before-stage1' }), craPairs, { batchSize: 64 });
      return {
        firstLoss: result.losses[0] ?? NaN,
        lastLoss: result.losses.at(-1) ?? NaN,
        craBefore: before.cra,
        craBeforeQ2G: before.queryToGallery,
        craBeforeG2Q: before.galleryToQuery,
        baseFingerprint: before.model.fingerprint,
      };
    } finally {
      model.dispose();
    }
  });

  // 3. stage 1: caption-contrastive LoRA fine-tuning
  const stage1Dir = join(runDir, 'stage1');
  const adapterDir = join(stage1Dir, 'adapter');
  await step('stage1', async () => {
    const model = await LlamaModel.fromPretrained(llmBaseDir);
    try {
      const result = await trainCaptionContrastive({
        model,
        tokenizer,
        samples: trainSamples,
        lora: { r: config.stage1.loraR, alpha: config.stage1.loraAlpha, dropout: config.stage1.loraDropout },
        steps: config.stage1.steps,
        batchSize: config.stage1.batchSize,
        lr: config.stage1.lr,
        warmupSteps: config.stage1.warmupSteps,
        maxLength,
        scale: config.stage1.scale,
        seed: seedOf(3),
        runDir: stage1Dir,
        checkpointEvery: config.checkpointEvery,
        resume: true,
        baseModelNameOrPath: llmBaseDir,
        onProgress,
        metrics,
      });
      return { firstLoss: result.losses[0] ?? NaN, lastLoss: result.losses.at(-1) ?? NaN, steps: result.endStep };
    } finally {
      model.dispose();
    }
  });

  // The frozen teacher: the base model with the stage-1 adapter merged, rebuilt the same way in
  // every process so its fingerprint (recorded in the cache) always matches.
  const teacher = await LlmEmbedder.fromPretrained(llmBaseDir, { ...embedderOptions, adapter: adapterDir, mergeAdapter: true, name: 'llm-after-stage1' });
  try {
    // 4. embed every training caption once
    const embeddingsDir = join(runDir, 'embeddings');
    await step('embed', async () => {
      const manifest = await embedCaptions({
        source: await openSyntheticSplit(dataDir, 'train'),
        embedder: teacher,
        outDir: embeddingsDir,
        samplesPerShard: config.data.samplesPerShard,
        batchSize: 64,
        pooling: 'mean',
        onProgress,
      });
      return { samples: manifest.samples, rows: manifest.rows, dim: manifest.dim };
    });

    // 5. stage 2, twice: the LLM teacher vs. the 77-token CLIP text tower
    const visionConfig = {
      image_size: config.data.imageSize,
      patch_size: config.vision.patch_size,
      hidden_size: config.vision.hidden_size,
      intermediate_size: config.vision.intermediate_size,
      num_hidden_layers: config.vision.num_hidden_layers,
      num_attention_heads: config.vision.num_attention_heads,
      projection_dim: config.vision.projection_dim,
      hidden_act: 'quick_gelu' as const,
    };
    const stage2Common = {
      seed: seedOf(5),
      steps: config.stage2.steps,
      batchSize: config.stage2.batchSize,
      lr: config.stage2.lr,
      warmupSteps: config.stage2.warmupSteps,
      weightDecay: config.stage2.weightDecay,
      checkpointEvery: config.checkpointEvery,
      resume: true,
      metrics,
      onProgress,
    };
    const llm2clipDir = join(runDir, 'llm2clip');
    await step('llm2clip', async () => {
      const cache = await EmbeddingCache.open(embeddingsDir);
      const vision = ClipVisionModel.create(visionConfig, new Rng(seedOf(4)));
      const result = await trainClip({
        ...stage2Common,
        source: await openSyntheticSplit(dataDir, 'train'),
        vision,
        text: { kind: 'llm2clip', cache },
        outDir: llm2clipDir,
        phase: 'llm2clip',
      });
      await result.model.save(join(llm2clipDir, 'model'));
      const record = { firstLoss: result.losses[0] ?? NaN, lastLoss: result.losses.at(-1) ?? NaN, imagesPerSecond: result.imagesPerSecond };
      result.model.dispose();
      return record;
    });
    const baselineDir = join(runDir, 'baseline');
    await step('baseline', async () => {
      const textModel = ClipTextModel.create(
        {
          vocab_size: tokenizer.vocabSize,
          hidden_size: config.baselineText.hidden_size,
          intermediate_size: config.baselineText.intermediate_size,
          num_hidden_layers: config.baselineText.num_hidden_layers,
          num_attention_heads: config.baselineText.num_attention_heads,
          max_position_embeddings: config.baselineText.max_position_embeddings,
          projection_dim: config.vision.projection_dim,
          hidden_act: 'quick_gelu',
          pad_token_id: tokenizer.padTokenId,
          bos_token_id: tokenizer.bosTokenId,
          eos_token_id: tokenizer.eosTokenId,
        },
        new Rng(seedOf(6)),
      );
      const clipTokenizer = await ClipTextTokenizer.fromFile(join(dataDir, 'tokenizer.json'), { contextLength: config.baselineText.max_position_embeddings });
      const vision = ClipVisionModel.create(visionConfig, new Rng(seedOf(4)));
      const result = await trainClip({
        ...stage2Common,
        source: await openSyntheticSplit(dataDir, 'train'),
        vision,
        text: { kind: 'baseline', model: textModel, tokenizer: clipTokenizer },
        outDir: baselineDir,
        phase: 'baseline',
      });
      await result.model.save(join(baselineDir, 'model'));
      const record = { firstLoss: result.losses[0] ?? NaN, lastLoss: result.losses.at(-1) ?? NaN, imagesPerSecond: result.imagesPerSecond };
      result.model.dispose();
      return record;
    });

    // 6. evaluation on the held-out split
    const reportPath = join(runDir, 'report.json');
    await step('eval', async () => {
      const models: ReportModel[] = [];
      const results: ReportResult[] = [];
      const dataset = `synthetic-test (${testSamples.length} images)`;
      models.push({ id: 'llm-before-stage1', description: { name: 'llm-base (causal-LM pretrained, bidirectional + mean pooling)', fingerprint: String(clm.baseFingerprint) } });
      results.push(...craReportRows({ model: 'llm-before-stage1', dataset, result: { cra: Number(clm.craBefore), queryToGallery: Number(clm.craBeforeQ2G), galleryToQuery: Number(clm.craBeforeG2Q), pairs: craPairs.length } }));
      const after = await evaluateCra(teacher, craPairs, { batchSize: 64 });
      models.push(reportModel('llm-after-stage1', teacher));
      results.push(...craReportRows({ model: 'llm-after-stage1', dataset, result: after }));
      for (const [id, dir] of [['llm2clip', llm2clipDir], ['baseline', baselineDir]] as const) {
        const trained: TrainedClipModel = await loadClipModel(join(dir, 'model'));
        try {
          const textEmbedder: TextEmbedder = trained.textEmbedder(teacher);
          const imageEmbedder = trained.imageEmbedder({ batchSize: 64 });
          const byKind = await evaluateRetrievalByKind({ textEmbedder, imageEmbedder, samples: testSamples, kinds: ['short', 'long'], batchSize: 64, onProgress });
          models.push(reportModel(id, textEmbedder, imageEmbedder));
          for (const result of Object.values(byKind)) results.push(...retrievalReportRows({ model: id, dataset, result }));
          results.push(...craReportRows({ model: id, dataset, result: await evaluateCra(textEmbedder, craPairs, { batchSize: 64 }) }));
        } finally {
          trained.dispose();
        }
      }
      const report = createReport({
        run: `synthetic-pipeline seed ${config.seed}`,
        models,
        results,
        notes: [
          `Backend: ${backend.name} (${backend.tfBackend}, ${backend.threads} threads).`,
          `Data: ${config.data.trainSamples} training and ${testSamples.length} held-out synthetic images of ${config.data.imageSize} px; each has 2 short and 2 long captions. Retrieval:short and retrieval:long use the held-out images' short or long captions only.`,
          `CRA protocol: caption 1 (short) of each held-out image as query, caption 2 (long) as gallery, both directions averaged, in percent.`,
          `The baseline's text tower reads at most ${config.baselineText.max_position_embeddings} tokens; long captions are truncated there. The LLM reads up to ${maxLength}.`,
          `Seconds per step: ${Object.entries(state.secondsPerStep()).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}.`,
        ],
      });
      await writeReport(runDir, report);
      return { craAfter: after.cra };
    });

    const report = await readReport(reportPath);
    const headline = headlineRows(report, MODEL_LABELS);
    const markdown = `${renderHeadlineTable(headline)}\n\nFull report: ${join(runDir, 'report.md')}`;
    return { runDir, reportPath, markdown, report, headline, wallSeconds: (performance.now() - started) / 1000, stepSeconds: state.secondsPerStep(), backend: backend.name };
  } finally {
    teacher.dispose();
  }
}

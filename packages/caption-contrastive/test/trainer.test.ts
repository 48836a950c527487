import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { JsonlMetricsLogger, Rng, readMetricsJsonl, type ProgressEvent } from '@llm2clip/core';
import { LlamaModel, parseLoraOptions } from '@llm2clip/llm';
import { readSafetensors } from '@llm2clip/tensor';
import { CaptionContrastiveConfigSchema, pretrainCausalLm, trainCaptionContrastive } from '../src/index.js';
import { tinyConfig, tinySamples, tinyTokenizer } from './fixtures.js';

const tokenizer = tinyTokenizer();
const samples = tinySamples(12);
const common = { tokenizer, samples, tokensPerPass: 96, batchSize: 4, lr: 2e-3, warmupSteps: 1, maxLength: 32, seed: 5, lora: { r: 4, alpha: 8, dropout: 0.1 } };

describe('pretrainCausalLm', () => {
  it('lowers the next-token loss on a fixed batch without leaking tensors', async () => {
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const texts = samples.slice(0, 4).map((s) => s.captions[1]);
    const counts = new Map<number, number>();
    const { losses } = await pretrainCausalLm({
      model,
      tokenizer,
      texts,
      steps: 12,
      batchSize: 4,
      lr: 1e-2,
      warmupSteps: 2,
      maxLength: 32,
      seed: 1,
      onProgress: (event) => counts.set(event.done, tf.memory().numTensors),
    });
    expect(losses).toHaveLength(12);
    expect(losses.at(-1)!).toBeLessThan(losses[0] * 0.6);
    expect(counts.get(12)).toBe(counts.get(2));
    model.dispose();
  });
});

describe('trainCaptionContrastive', () => {
  it("defaults to LLM2CLIP's stage-1 settings", () => {
    expect(CaptionContrastiveConfigSchema.parse({ steps: 1 })).toMatchObject({ lr: 2e-4, warmupSteps: 300, scale: 50, pooling: 'mean', weightDecay: 0, maxGradNorm: 1 });
    expect(parseLoraOptions({})).toMatchObject({ r: 16, alpha: 32, dropout: 0.05, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] });
  });

  it('trains only LoRA weights, logs metrics and progress, writes a PEFT adapter, and leaks nothing', async () => {
    const runDir = await mkdtemp(join(tmpdir(), 'stage1-'));
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const base = model.fingerprint();
    const events: ProgressEvent[] = [];
    const tensorCounts = new Map<number, number>();
    const craSteps: number[] = [];
    const result = await trainCaptionContrastive({
      ...common,
      model,
      steps: 6,
      instruction: 'retrieve caption :',
      runDir,
      metrics: new JsonlMetricsLogger(join(runDir, 'metrics.jsonl')),
      onProgress: (event) => {
        events.push(event);
        tensorCounts.set(event.done, tf.memory().numTensors);
      },
      craEval: {
        every: 3,
        evaluate: async (embedder, step) => {
          craSteps.push(step);
          const m = await embedder.embed(['a red cube', 'a blue ball']);
          return m.rows === 2 ? 50 : 0;
        },
      },
    });
    expect(model.fingerprint()).toBe(base);
    expect(result.losses).toHaveLength(6);
    expect(result.losses.every(Number.isFinite)).toBe(true);
    expect(result.endStep).toBe(6);
    expect(tensorCounts.get(6)).toBe(tensorCounts.get(2));
    expect(events.map((e) => e.done)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events[0]).toMatchObject({ task: 'stage1', total: 6, unit: 'step' });
    expect(craSteps).toEqual([0, 3, 6]);
    const records = readMetricsJsonl(await readFile(join(runDir, 'metrics.jsonl'), 'utf8'));
    expect(records.filter((r) => r.phase === 'stage1').map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(records.filter((r) => r.phase === 'stage1-eval').map((r) => [r.step, r.cra])).toEqual([[0, 50], [3, 50], [6, 50]]);
    const stepRecord = records.find((r) => r.phase === 'stage1')!;
    expect(stepRecord.tokens).toBeGreaterThan(3 * 4);
    expect(stepRecord.tokensPerSecond).toBeGreaterThan(0);
    expect(stepRecord.etaSeconds).toBeGreaterThanOrEqual(0);
    expect(stepRecord.source).toBe('captions');
    expect(events[0].values).toHaveProperty('tok/s');
    expect(events[0].values).toHaveProperty('eta_s');
    expect((await readdir(join(runDir, 'adapter'))).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'llm2clip_embedder.json', 'llm2vec_config.json']);
    const tensorNames = [...(await readSafetensors(join(runDir, 'adapter', 'adapter_model.safetensors'))).tensors.keys()];
    expect(tensorNames).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(tensorNames).toContain('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight');
    expect(tensorNames).toHaveLength(2 * 2 * 7);
    expect(JSON.parse(await readFile(join(runDir, 'adapter', 'llm2vec_config.json'), 'utf8'))).toEqual({ pooling_mode: 'mean', max_length: 32, doc_max_length: 32, skip_instruction: true });
    expect(JSON.parse(await readFile(join(runDir, 'adapter', 'llm2clip_embedder.json'), 'utf8'))).toMatchObject({
      format: 'llm2clip.stage1-embedder',
      version: 1,
      bidirectional: true,
      instruction: 'retrieve caption :',
      instructionOn: 'queries',
    });
    const adapterConfig = JSON.parse(await readFile(join(runDir, 'adapter', 'adapter_config.json'), 'utf8'));
    expect(adapterConfig).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, lora_dropout: 0.1, bias: 'none' });
    expect(await readdir(join(runDir, 'checkpoints'))).toEqual(['step-00000006']);
    result.embedder.dispose();
  });

  it('resumes from a checkpoint to bit-identical weights of an uninterrupted run', async () => {
    const straightModel = LlamaModel.create(tinyConfig(), new Rng(1));
    const straight = await trainCaptionContrastive({ ...common, model: straightModel, steps: 6 });
    const runDir = await mkdtemp(join(tmpdir(), 'stage1-resume-'));
    const controller = new AbortController();
    const firstModel = LlamaModel.create(tinyConfig(), new Rng(1));
    const first = await trainCaptionContrastive({
      ...common,
      model: firstModel,
      steps: 6,
      runDir,
      checkpointEvery: 2,
      signal: controller.signal,
      onProgress: (event) => {
        if (event.done === 3) controller.abort();
      },
    });
    expect(first.endStep).toBe(3);
    expect(first.adapterDir).toBeUndefined();
    const resumedModel = LlamaModel.create(tinyConfig(), new Rng(1));
    const resumed = await trainCaptionContrastive({ ...common, model: resumedModel, steps: 6, runDir, resume: true });
    expect(resumed.startStep).toBe(3);
    expect(resumed.losses).toEqual(straight.losses.slice(3));
    const a = straight.lora.parameters.toHost();
    const b = resumed.lora.parameters.toHost();
    for (const [name, tensor] of a) expect(Buffer.from(b.get(name)!.data.buffer).equals(Buffer.from(tensor.data.buffer))).toBe(true);
    expect(resumed.adapterDir).toBe(join(runDir, 'adapter'));
    for (const r of [straight, first, resumed]) r.embedder.dispose();
  });

  it('refuses a checkpoint written with other settings', async () => {
    const runDir = await mkdtemp(join(tmpdir(), 'stage1-mismatch-'));
    const model = LlamaModel.create(tinyConfig(), new Rng(1));
    const run = await trainCaptionContrastive({ ...common, model, steps: 1, runDir });
    run.embedder.dispose();
    const other = LlamaModel.create(tinyConfig(), new Rng(1));
    await expect(trainCaptionContrastive({ ...common, seed: 6, model: other, steps: 2, runDir, resume: true })).rejects.toThrow(/E_MISMATCH.*field seed/);
    other.dispose();
  });
});

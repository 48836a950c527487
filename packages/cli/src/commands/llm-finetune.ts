import { Command, InvalidArgumentError } from 'commander';
import { dataParallelGroup, loadStage1RunConfig, runStage1 } from '@llm2clip/caption-contrastive';
import { evaluateCra } from '@llm2clip/eval';
import { initBackend } from '@llm2clip/tensor';
import { createProgressRenderer } from '../progress-renderer.js';

const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
type BackendFlag = (typeof BACKENDS)[number];

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return parsed;
}

function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return parsed;
}

function backend(value: string): BackendFlag {
  if (!(BACKENDS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${BACKENDS.join(', ')}`);
  return value as BackendFlag;
}

/** `field=value` → [field, value]; the value is parsed as JSON when it is JSON, else kept as text. */
function assignment(value: string, previous: [string, unknown][] = []): [string, unknown][] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected field=value, got "${value}"`);
  const text = value.slice(eq + 1);
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // plain text value
  }
  return [...previous, [value.slice(0, eq), parsed]];
}

/** Flags of `llm2clip llm finetune`. */
export interface LlmFinetuneFlags {
  config: string;
  model?: string;
  output?: string;
  train?: string;
  heldOut?: string;
  steps?: number;
  batchSize?: number;
  lr?: number;
  warmupSteps?: number;
  maxLength?: number;
  tokensPerPass?: number;
  seed?: number;
  checkpointEvery?: number;
  craEvery?: number;
  mntpSteps?: number;
  saveMerged?: boolean;
  resume?: boolean;
  backend?: BackendFlag;
  set?: [string, unknown][];
}

/** The config-field overrides the flags stand for (dotted paths into the stage-1 config). */
export function llmFinetuneOverrides(flags: LlmFinetuneFlags): Record<string, unknown> {
  const overrides: Record<string, unknown> = {
    model: flags.model,
    output: flags.output,
    'data.train': flags.train !== undefined ? { webdataset: flags.train } : undefined,
    'data.heldOut': flags.heldOut !== undefined ? { webdataset: flags.heldOut } : undefined,
    'train.steps': flags.steps,
    'train.batchSize': flags.batchSize,
    'train.lr': flags.lr,
    'train.warmupSteps': flags.warmupSteps,
    'train.maxLength': flags.maxLength,
    'train.tokensPerPass': flags.tokensPerPass,
    'train.seed': flags.seed,
    'train.checkpointEvery': flags.checkpointEvery,
    'cra.every': flags.craEvery,
    'mntp.steps': flags.mntpSteps,
    saveMerged: flags.saveMerged,
  };
  for (const [field, value] of flags.set ?? []) overrides[field] = value;
  return overrides;
}

/** Signals that stop a run gracefully after the current step (a checkpoint is written). `mpirun` forwards SIGUSR2 to every rank; Ctrl-C (SIGINT) on `mpirun` ends the job instead. */
const STOP_SIGNALS = ['SIGINT', 'SIGUSR2'] as const;

/**
 * Adds `llm finetune` to `program` (under an existing `llm` command when one is registered): stage 1
 * of LLM2CLIP from a JSON/YAML config (`@llm2clip/caption-contrastive`'s `Stage1RunConfigSchema`),
 * flags overriding its fields, CRA through `@llm2clip/eval`. Under an MPI launcher
 * (`mpirun -np N llm2clip llm finetune …`) it trains data-parallel on N ranks with the config's
 * global batch; rank 0 alone logs, shows progress and writes files.
 */
export function registerLlmFinetuneCommand(program: Command): Command {
  const llm =
    program.commands.find((command) => command.name() === 'llm') ??
    program.command('llm').description('The LLM side of LLM2CLIP: caption-contrastive fine-tuning (stage 1) and LLM tools.');
  llm
    .command('finetune')
    .description(
      'Stage 1: caption-contrastive LoRA fine-tuning of a Hugging Face decoder (optional MNTP first), with checkpoints, metrics.jsonl and CRA on held-out captions; writes a PEFT adapter (+ llm2vec_config.json).',
    )
    .requiredOption('--config <file>', 'run config (JSON or YAML; see Stage1RunConfigSchema)')
    .option('--model <dir>', 'base model directory (Hugging Face layout) → model')
    .option('--output <dir>', 'run directory → output')
    .option('--train <shards>', 'training webdataset shards (brace pattern) → data.train')
    .option('--held-out <shards>', 'held-out webdataset shards for CRA → data.heldOut')
    .option('--steps <n>', 'contrastive steps → train.steps', positiveInteger)
    .option('--batch-size <n>', 'queries per step (effective batch) → train.batchSize', positiveInteger)
    .option('--lr <x>', 'peak learning rate → train.lr', positiveNumber)
    .option('--warmup-steps <n>', 'linear warm-up steps → train.warmupSteps', positiveInteger)
    .option('--max-length <n>', 'longest caption in tokens → train.maxLength', positiveInteger)
    .option('--tokens-per-pass <n>', 'padded tokens per GradCache pass → train.tokensPerPass', positiveInteger)
    .option('--seed <n>', 'seed → train.seed', positiveInteger)
    .option('--checkpoint-every <n>', 'checkpoint interval in steps → train.checkpointEvery', positiveInteger)
    .option('--cra-every <n>', 'CRA interval in steps → cra.every', positiveInteger)
    .option('--mntp-steps <n>', 'run an MNTP phase of this many steps first → mntp.steps', positiveInteger)
    .option('--save-merged', 'also write the merged model to <output>/merged → saveMerged')
    .option('--resume', 'continue from the newest checkpoint in the output directory (also one written with another number of ranks)')
    .option('--backend <name>', `force a tensor backend (${BACKENDS.join(', ')}); default: fastest available`, backend)
    .option('--set <field=value>', 'set any config field by dotted path, e.g. train.lora.r=8 (repeatable)', assignment)
    .action(async (flags: LlmFinetuneFlags) => {
      const config = await loadStage1RunConfig(flags.config, llmFinetuneOverrides(flags));
      // the process group first (a world of one without a launcher), so that only rank 0 talks
      const group = dataParallelGroup();
      const log = group.isRoot ? (line: string) => process.stderr.write(`${line}\n`) : () => {};
      await initBackend({ backend: flags.backend, log });
      const controller = new AbortController();
      const stop = () => {
        log('stopping after this step (a checkpoint is written); --resume continues');
        controller.abort();
      };
      for (const name of STOP_SIGNALS) process.once(name, stop);
      try {
        const result = await runStage1(config, {
          resume: flags.resume ?? false,
          onProgress: createProgressRenderer(),
          log,
          signal: controller.signal,
          finalizeDistributed: true,
          evaluateCra: (embedder, pairs) => evaluateCra(embedder, pairs, { batchSize: config.cra.batchSize }),
        });
        const lines = [
          `steps ${result.startStep} → ${result.endStep} of ${config.train.steps}`,
          ...result.cra.map((c) => `CRA at step ${c.step}: ${c.cra.toFixed(2)}`),
          result.adapterDir !== undefined ? `adapter: ${result.adapterDir}` : 'stopped early: run again with --resume to finish',
          ...(result.mergedDir !== undefined ? [`merged model: ${result.mergedDir}`] : []),
        ];
        if (group.worldSize > 1) lines.unshift(`data-parallel over ${group.worldSize} ranks`);
        if (group.isRoot) process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        for (const name of STOP_SIGNALS) process.off(name, stop);
      }
    });
  return llm;
}

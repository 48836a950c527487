import { Command, InvalidArgumentError } from 'commander';
import { resolve } from 'node:path';
import { runSyntheticPipeline, resolvePipelineConfig, type PipelinePreset } from '@llm2clip/example-synthetic-pipeline';
import { createProgressRenderer } from './progress-renderer.js';
import { registerEmbedCommand } from './commands/embed.js';
import { registerClipCommand } from './commands/clip-train.js';
import { registerLlmFinetuneCommand } from './commands/llm-finetune.js';
import { registerEvalCommand } from './commands/eval.js';

const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
type BackendFlag = (typeof BACKENDS)[number];

function parseInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
  return parsed;
}

function parseBackend(value: string): BackendFlag {
  if (!(BACKENDS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${BACKENDS.join(', ')}`);
  return value as BackendFlag;
}

/** Builds the `llm2clip` command tree (exported so tests and embedders can drive it). */
export function buildProgram(): Command {
  const program = new Command('llm2clip')
    .description('LLM2CLIP in TypeScript: an LLM caption embedder teaches a CLIP vision encoder.')
    .showHelpAfterError();

  program
    .command('demo')
    .description('Run the whole method end to end on built-in synthetic data: data → causal-LM pretraining → stage 1 (caption-contrastive LoRA) → caption embedding cache → stage 2 (LLM2CLIP and a 77-token CLIP baseline) → evaluation report.')
    .option('--name <name>', 'run name; outputs go to <runs-dir>/<name>/', 'demo')
    .option('--runs-dir <dir>', 'directory holding runs', 'runs')
    .option('--seed <n>', 'seed for data, weights and order', parseInteger, 0)
    .option('--preset <preset>', 'size preset: default (the documented demo) or tiny (seconds, for smoke tests)', 'default')
    .option('--backend <name>', `force a tensor backend (${BACKENDS.join(', ')}); default: fastest available`, parseBackend)
    .option('--fresh', 'delete an existing run directory of the same name first', false)
    .action(async (options: { name: string; runsDir: string; seed: number; preset: string; backend?: BackendFlag; fresh: boolean }) => {
      if (options.preset !== 'default' && options.preset !== 'tiny') throw new InvalidArgumentError('preset must be default or tiny');
      const runDir = resolve(options.runsDir, options.name);
      const config = resolvePipelineConfig(options.preset as PipelinePreset, { seed: options.seed, backend: options.backend });
      const summary = await runSyntheticPipeline({
        runDir,
        config,
        fresh: options.fresh,
        onProgress: createProgressRenderer(),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(`\n${summary.markdown}\n`);
      process.stdout.write(`\nRun directory: ${runDir}\n  report: ${summary.reportPath}\n  wall time: ${summary.wallSeconds.toFixed(0)} s on backend ${summary.backend}\n`);
    });

  registerLlmFinetuneCommand(program);
  registerEmbedCommand(program);
  registerClipCommand(program);
  registerEvalCommand(program);
  return program;
}

/** Runs the CLI with `argv` (as `process.argv`); resolves when the command finishes. */
export async function runCli(argv: readonly string[] = process.argv): Promise<void> {
  await buildProgram().parseAsync([...argv]);
}

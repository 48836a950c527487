import { Command, InvalidArgumentError, Option } from 'commander';
import { Llm2ClipError } from '@llm2clip/core';
import { WebDatasetSource } from '@llm2clip/data';
import { LlmEmbedder, POOLING_MODES, type PoolingMode } from '@llm2clip/llm';
import { BACKEND_PREFERENCE, initBackend, type BackendName } from '@llm2clip/tensor';
import { embedShards, inputShardsFromPaths, mergeEmbeddingShards, resolveShardSpec, writeLlm2ClipColumnTars, type ShardAssignment } from '@llm2clip/clip-trainer';
import { createProgressRenderer } from '../progress-renderer.js';
import { resolveShardPaths } from './embed-sources.js';

interface EmbedFlags {
  model?: string;
  adapter?: string;
  pooling: PoolingMode;
  instruction?: string;
  maxLength: number;
  shards?: string[];
  shardIndex?: string;
  out?: string;
  shard: string;
  assignment: ShardAssignment;
  batchSize: number;
  overwrite: boolean;
  backend?: BackendName;
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return parsed;
}

/**
 * `llm2clip embed`: the frozen teacher over every caption, one sidecar shard per input tar;
 * `embed merge <dir>` / `embed verify <dir>` check completeness and write / check the manifest.
 */
export function registerEmbedCommand(program: Command): void {
  const embed = program
    .command('embed')
    .description(
      'Embed every caption of a webdataset with the frozen LLM (stage 2, once): one sidecar safetensors shard per input tar, with a completion record; finished shards are kept on a rerun. Split the work with --shard i/n (or --shard auto under a Kubernetes Indexed Job / SLURM array), then run `embed merge`.',
    )
    .option('--model <dir>', 'Hugging Face LLM directory (config.json, safetensors, tokenizer.json); required')
    .option('--adapter <dir>', 'PEFT LoRA adapter of stage 1, merged into the model')
    .addOption(new Option('--pooling <mode>', 'token pooling').choices([...POOLING_MODES]).default('mean'))
    .option('--instruction <text>', 'instruction put before every caption (excluded from pooling)')
    .option('--max-length <n>', 'longest caption in tokens', positiveInteger, 512)
    .option('--shards <patterns...>', "input tars: paths or brace patterns ('train-{000000..000099}.tar')")
    .option('--shard-index <file>', 'webdataset shard index (wids JSON) instead of --shards')
    .option('--out <dir>', 'embedding cache directory (shared by all parts); required')
    .option('--shard <spec>', 'this part of a split job: i/n (0-based), auto or auto/n (from JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID, LLM2CLIP_SHARD_INDEX)', '0/1')
    .addOption(new Option('--assignment <how>', 'how input tars are dealt to parts').choices(['round-robin', 'contiguous']).default('round-robin'))
    .option('--batch-size <n>', 'captions per forward pass', positiveInteger, 32)
    .option('--overwrite', 'redo shards that are already done', false)
    .addOption(new Option('--backend <name>', 'tensor backend (default: fastest available)').choices([...BACKEND_PREFERENCE]))
    .action(async (flags: EmbedFlags) => {
      // checked here, not by commander: it would demand them of `embed merge` / `embed verify` too
      if (flags.model === undefined) throw new Llm2ClipError('E_CONFIG', 'embed needs --model <dir>', { field: 'model' });
      if (flags.out === undefined) throw new Llm2ClipError('E_CONFIG', 'embed needs --out <dir>', { field: 'out' });
      const spec = resolveShardSpec(flags.shard);
      const paths = await resolveShardPaths(flags.shards, flags.shardIndex);
      await initBackend({ backend: flags.backend, log: (line) => process.stderr.write(`${line}\n`) });
      const embedder = await LlmEmbedder.fromPretrained(flags.model, { adapter: flags.adapter, pooling: flags.pooling, instruction: flags.instruction, maxLength: flags.maxLength });
      try {
        const result = await embedShards({
          inputs: inputShardsFromPaths(paths, (path) => new WebDatasetSource(path)),
          embedder,
          outDir: flags.out,
          shard: spec,
          assignment: flags.assignment,
          batchSize: flags.batchSize,
          pooling: flags.pooling,
          overwrite: flags.overwrite,
          onProgress: createProgressRenderer(),
        });
        process.stdout.write(
          `part ${spec.index}/${spec.count}: embedded ${result.embedded.length} shard(s) (${result.captions} captions), kept ${result.reused.length} finished shard(s), skipped ${result.skippedSamples} sample(s) without captions\n`,
        );
      } finally {
        embedder.dispose();
      }
    });

  const check = (verifyOnly: boolean) => async (dir: string, flags: { expectFingerprint?: string }) => {
    const manifest = await mergeEmbeddingShards(dir, { verifyOnly, embedderFingerprint: flags.expectFingerprint });
    process.stdout.write(
      `${verifyOnly ? 'verified' : 'merged'}: ${manifest.shards.length}/${manifest.inputs.count} shards, ${manifest.samples} samples, ${manifest.rows} caption rows, dim ${manifest.dim}, ${manifest.pooling} pooling, embedder ${manifest.embedder.name} (${manifest.embedder.fingerprint})${verifyOnly ? '' : ` → ${dir}/manifest.json`}\n`,
    );
  };
  embed
    .command('merge <dir>')
    .description('Check that every input shard is embedded (counts, one embedder fingerprint, no duplicate keys) and write manifest.json')
    .option('--expect-fingerprint <fp>', 'require this embedder fingerprint')
    .action(check(false));
  embed
    .command('verify <dir>')
    .description('Run the checks of `merge` without writing anything (exit code 1 when incomplete)')
    .option('--expect-fingerprint <fp>', 'require this embedder fingerprint')
    .action(check(true));
  embed
    .command('export-llm2clip <dir>')
    .description("Also write a merged cache in LLM2CLIP's layout: x_text_embeddings.tar beside each input x.tar (members <key>.shortSV_captions / <key>.longSV_captions, raw float32), for LLM2CLIP's own training code")
    .option('--out-dir <dir>', 'write the tars here instead of beside the input tars')
    .action(async (dir: string, flags: { outDir?: string }) => {
      const written = await writeLlm2ClipColumnTars(dir, { outDir: flags.outDir });
      process.stdout.write(`wrote ${written.length} LLM2CLIP column tar(s), e.g. ${written[0] ?? '-'}\n`);
    });
}

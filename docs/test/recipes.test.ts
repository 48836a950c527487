import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractBlocks } from './blocks.js';
import { prepareWorkspace, REPO, runBlock } from './workspace.js';

// The cluster recipes of docs/recipes, each exercised at world size 2 on this machine:
// - clip-train-slurm.sh: the command `srun` starts per task is run under `mpirun -np 2` instead
//   (no SLURM here; that initDistributed reads SLURM_PROCID / SLURM_STEP_NUM_TASKS / SLURM_LOCALID
//   is tested in packages/distributed/test/process-group.test.ts and slurm-env.test.ts);
// - clip-train-mpijob.yaml: the launcher's mpirun command line, with -np 2 (no Kubernetes or MPI
//   operator here: the ranks run on this machine instead of on worker pods);
// - embed-indexed-job.yaml: the embed container's command as pods 0 and 1 of a 2-completion
//   Indexed Job (JOB_COMPLETION_INDEX), then the merge Job's command.
// The commands are read from the recipe files (only paths and sizes are swapped for the tiny
// workspace of the quickstart), so a recipe that breaks fails here.

const RECIPES = join(REPO, 'docs', 'recipes');
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
const mpirunProbe = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
const missing = mpirunProbe.error !== undefined || mpirunProbe.status !== 0 ? 'mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)' : undefined;
if (missing !== undefined && !inCi) console.warn(`recipes.test: world-size-2 recipe runs SKIPPED — ${missing}`);

describe.runIf(missing !== undefined && inCi)('mpirun in CI', () => {
  it('is installed (scripts/setup.sh installs openmpi-bin libopenmpi-dev)', () => {
    expect(missing).toBeUndefined();
  });
});

/** Indentation of a line. */
function indent(line: string): number {
  return line.length - line.trimStart().length;
}

/** A YAML scalar without its trailing comment and quotes. */
function scalar(text: string): string {
  const value = text.replace(/\s+#.*$/, '').trim();
  return /^(["']).*\1$/.test(value) ? value.slice(1, -1) : value;
}

/**
 * The `command` of the container named `name` in a Kubernetes manifest: a narrow reader for the
 * two shapes the recipes use (a block list of `- item` lines, or a flow list `[a, b]`), not YAML
 * in general. Starts at the `index`-th document (`---`).
 */
export function containerCommand(yaml: string, name: string, index = 0): string[] {
  const lines = (yaml.split(/^---$/m)[index] ?? '').split('\n');
  const at = lines.findIndex((line) => new RegExp(`^\\s*- name: ${name}\\s*$`).test(line));
  if (at < 0) throw new Error(`no container named ${name}`);
  for (let i = at + 1; i < lines.length && indent(lines[i]) > indent(lines[at]); i++) {
    const match = /^(\s*)command:\s*(.*)$/.exec(lines[i]);
    if (match === null) continue;
    if (match[2].startsWith('[')) return match[2].replace(/^\[|\]\s*(#.*)?$/g, '').split(',').map(scalar);
    const items: string[] = [];
    for (let j = i + 1; j < lines.length && /^\s*- /.test(lines[j]) && indent(lines[j]) >= match[1].length; j++) items.push(scalar(lines[j].trim().slice(2)));
    return items;
  }
  throw new Error(`container ${name} has no command`);
}

/** The first value of `key:` after the line matching `after` (default: from the top). */
function field(yaml: string, key: string, after?: RegExp): string {
  const lines = yaml.split('\n');
  const from = after === undefined ? 0 : lines.findIndex((line) => after.test(line));
  const line = lines.slice(Math.max(0, from)).find((l) => new RegExp(`^\\s*${key}:`).test(l));
  if (line === undefined) throw new Error(`no ${key}`);
  return scalar(line.replace(new RegExp(`^\\s*${key}:`), ''));
}

/** Replaces `--flag=value` (or `--flag value`) in an argv; removes the flag when `value` is undefined. */
function setFlag(argv: string[], flag: string, value: string | undefined): string[] {
  const out: string[] = [];
  let found = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith(`${flag}=`) || argv[i] === flag) {
      found = true;
      if (argv[i] === flag) i += 1;
      if (value !== undefined) out.push(`${flag}=${value}`);
    } else out.push(argv[i]);
  }
  if (!found) throw new Error(`the recipe's command has no ${flag}`);
  return out;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

let dir = '';

function envFor(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^(OMPI_|PMIX_|PMI_|SLURM_|JOB_COMPLETION_INDEX|LLM2CLIP_)/.test(key)) env[key] = value;
  return { ...env, PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`, NO_COLOR: '1', ...extra };
}

/** Runs `command args` in the workspace, killing its process group after `timeoutMs`. */
function run(command: string, args: string[], extra: Record<string, string> = {}, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: dir, env: envFor(extra), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

function show(r: Run): string {
  return `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}\n${r.stdout}\n${r.stderr}`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-recipes-'));
  await prepareWorkspace(dir);
  const quickstart = extractBlocks('docs/guides/quickstart.md', await readFile(join(REPO, 'docs', 'guides', 'quickstart.md'), 'utf8'));
  const setup = quickstart.find((b) => b.setup);
  if (setup === undefined) throw new Error('quickstart.md has no setup block');
  await runBlock(setup, dir, 0); // data/train/shard-00000{0,1}.tar, models/tiny-llama, models/tiny-clip
});

afterAll(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

const TRAIN_SHARDS = 'data/train/shard-{000000..000001}.tar';

async function writeRunConfig(name: string): Promise<string> {
  const path = join(dir, `${name}.json`);
  const recipe = JSON.parse(await readFile(join(RECIPES, 'clip-train.json'), 'utf8')) as Record<string, unknown>;
  // the recipe's config, shrunk: tiny data and towers, 2 steps of a global batch of 8
  const config = {
    ...recipe,
    data: { shards: ['data/train/shard-000000.tar', 'data/train/shard-000001.tar'], cache: 'cache/train' },
    eval: undefined,
    vision: { pretrained: 'models/tiny-clip' },
    adapter: { blocks: 1, expansion: 2, projBias: true },
    outDir: `runs/${name}`,
    epochs: undefined,
    steps: 2,
    batchSize: 8,
    microBatchSize: undefined,
    warmupSteps: 0,
    lr: 1e-3,
    checkpointEvery: 1,
  };
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

/** Checks a finished 2-rank `clip train`: one report, rank 0's files, the exported model. */
async function expectTrainedAtWorldSize2(result: Run, name: string): Promise<void> {
  expect(result.timedOut, show(result)).toBe(false);
  expect(result.code, show(result)).toBe(0);
  expect(result.stderr).toMatch(/data-parallel: 2 ranks \(openmpi\), global batch 8, 4 per rank/);
  expect(result.stdout.match(/^trained 2\/2 steps/gm), 'one report (rank 0 only)').toHaveLength(1);
  const out = join(dir, 'runs', name);
  expect((await readFile(join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(2);
  expect((await readdir(join(out, 'checkpoints'))).filter((n) => n.startsWith('step-')).sort()).toEqual(['step-00000001', 'step-00000002']);
  expect(existsSync(join(out, 'model', 'model.safetensors'))).toBe(true);
  expect(existsSync(join(out, 'model', 'adapter', 'adapter.safetensors'))).toBe(true);
}

// The tests run in order: the Indexed Job's cache is the training data of the two MPI recipes.
describe('docs/recipes at world size 2', () => {
  it('embed-indexed-job.yaml: pods 0 and 1 of an Indexed Job embed their parts, the merge Job completes the cache', async () => {
    const yaml = await readFile(join(RECIPES, 'embed-indexed-job.yaml'), 'utf8');
    let embed = containerCommand(yaml, 'embed');
    expect(embed.slice(0, 2)).toEqual(['llm2clip', 'embed']);
    // the recipe's part count matches its completions
    const shardFlag = embed.find((a) => a.startsWith('--shard='));
    expect(shardFlag).toBe(`--shard=auto/${field(yaml, 'completions')}`);
    expect(field(yaml, 'completionMode')).toBe('Indexed');
    embed = setFlag(embed, '--model', 'models/tiny-llama');
    embed = setFlag(embed, '--adapter', undefined); // the tiny workspace has no stage-1 adapter
    embed = setFlag(embed, '--shards', TRAIN_SHARDS);
    embed = setFlag(embed, '--out', 'cache/train');
    embed = setFlag(embed, '--shard', 'auto/2');
    embed = setFlag(embed, '--batch-size', '8');
    const pods = await Promise.all([0, 1].map((index) => run(embed[0], embed.slice(1), { JOB_COMPLETION_INDEX: String(index) })));
    pods.forEach((pod) => expect(pod.code, show(pod)).toBe(0));
    const records = (await readdir(join(dir, 'cache', 'train'))).filter((n) => n.endsWith('.done.json')).sort();
    expect(records).toEqual(['shard-000000.done.json', 'shard-000001.done.json']);
    expect(existsSync(join(dir, 'cache', 'train', 'manifest.json'))).toBe(false);

    const merge = containerCommand(yaml, 'merge', 1);
    expect(merge.slice(0, 3)).toEqual(['llm2clip', 'embed', 'merge']);
    const merged = await run(merge[0], [...merge.slice(1, 3), 'cache/train']);
    expect(merged.code, show(merged)).toBe(0);
    const manifest = JSON.parse(await readFile(join(dir, 'cache', 'train', 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: 'llm2clip.embeddings', samples: 16 });
    const verified = await run('llm2clip', ['embed', 'verify', 'cache/train']);
    expect(verified.code, show(verified)).toBe(0);
  });

  it.skipIf(missing !== undefined)('clip-train-slurm.sh: the command srun starts per task trains at world size 2 (under mpirun -np 2)', async () => {
    const script = await readFile(join(RECIPES, 'clip-train-slurm.sh'), 'utf8');
    const joined = script.replace(/\\\n\s*/g, ' ');
    const srunLine = joined.split('\n').find((line) => line.startsWith('srun '));
    expect(srunLine).toBeDefined();
    expect(srunLine).toMatch(/--mpi=pmix/);
    // what srun starts: everything after srun's own options
    const words = (srunLine as string).split(/\s+/).slice(1);
    const command = words.slice(words.findIndex((w) => !w.startsWith('-'))).join(' ');
    expect(command).toMatch(/^llm2clip clip train --config "\$CONFIG"/);
    expect(script).toMatch(/^#SBATCH --ntasks-per-node=\d+$/m);
    const config = await writeRunConfig('slurm');
    const result = await run('mpirun', ['-np', '2', '--allow-run-as-root', '--oversubscribe', 'bash', '-euo', 'pipefail', '-c', command], { CONFIG: config });
    await expectTrainedAtWorldSize2(result, 'slurm');
  });

  it.skipIf(missing !== undefined)('clip-train-mpijob.yaml: the launcher\'s mpirun command trains at world size 2', async () => {
    const yaml = await readFile(join(RECIPES, 'clip-train-mpijob.yaml'), 'utf8');
    expect(field(yaml, 'apiVersion')).toBe('kubeflow.org/v2beta1');
    expect(field(yaml, 'kind')).toBe('MPIJob');
    let launcher = containerCommand(yaml, 'launcher');
    expect(launcher[0]).toBe('mpirun');
    // -np is workers × slots per worker
    const np = launcher.indexOf('-np');
    expect(Number(launcher[np + 1])).toBe(Number(field(yaml, 'replicas', /^\s*Worker:/)) * Number(field(yaml, 'slotsPerWorker')));
    expect(containerCommand(yaml, 'worker')[0]).toBe('/usr/sbin/sshd');
    const config = await writeRunConfig('mpijob');
    launcher = [...launcher.slice(0, np + 1), '2', ...launcher.slice(np + 2)];
    launcher = setFlag(launcher, '--config', config);
    // here the ranks share one 2-core machine instead of worker pods
    const result = await run(launcher[0], ['--oversubscribe', ...launcher.slice(1)]);
    await expectTrainedAtWorldSize2(result, 'mpijob');
  });
});

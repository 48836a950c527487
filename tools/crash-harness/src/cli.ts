#!/usr/bin/env node
/**
 * `pnpm crash [--stage 1|2|both] [--trials K] [--seed S] [--steps N] [--checkpoint-every N]
 * [--max-kills N] [--mntp-steps N] [--import-retries N] [--modes inject,watch,timer] [--root DIR] [--keep] [--json FILE]`: the
 * kill-and-resume harness from the command line. Exits 1 when any trial is not bit-identical or
 * any checkpoint was found broken.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KILL_MODES, formatReport, runCrashHarness, type CrashHarnessReport, type KillMode } from './harness.js';

const USAGE = `usage: llm2clip-crash [--stage 1|2|both] [--trials K] [--seed S] [--steps N] [--checkpoint-every N]
                      [--max-kills N] [--mntp-steps N] [--import-retries N] [--modes ${KILL_MODES.join(',')}] [--root DIR] [--keep] [--json FILE]`;

function count(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${value}\n${USAGE}`);
  return parsed;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      stage: { type: 'string', default: 'both' },
      trials: { type: 'string' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      'checkpoint-every': { type: 'string' },
      'max-kills': { type: 'string' },
      'mntp-steps': { type: 'string' },
      'import-retries': { type: 'string' },
      modes: { type: 'string' },
      root: { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const stages = values.stage === 'both' ? ([1, 2] as const) : values.stage === '1' ? ([1] as const) : values.stage === '2' ? ([2] as const) : undefined;
  if (stages === undefined) throw new Error(`--stage must be 1, 2 or both\n${USAGE}`);
  const modes = (values.modes?.split(',') ?? [...KILL_MODES]) as KillMode[];
  for (const mode of modes) if (!(KILL_MODES as readonly string[]).includes(mode)) throw new Error(`unknown kill mode ${mode}\n${USAGE}`);
  const root = values.root !== undefined ? resolve(values.root) : await mkdtemp(join(tmpdir(), 'llm2clip-crash-'));
  const reports: CrashHarnessReport[] = [];
  const log = (line: string) => process.stderr.write(`${line}\n`);
  try {
    for (const stage of stages) {
      const report = await runCrashHarness({
        stage,
        trials: count('trials', values.trials, 20),
        killSeed: count('seed', values.seed, 1, 0),
        steps: count('steps', values.steps, 6),
        checkpointEvery: count('checkpoint-every', values['checkpoint-every'], 1),
        maxKillsPerTrial: count('max-kills', values['max-kills'], 3),
        mntpSteps: stage === 1 ? count('mntp-steps', values['mntp-steps'], 0, 0) : undefined,
        modes,
        root: join(root, `stage-${stage}`),
        cleanTrials: !values.keep,
        importRetries: count('import-retries', values['import-retries'], 0, 0),
        log,
      });
      reports.push(report);
      process.stdout.write(`${formatReport(report)}\n`);
    }
  } finally {
    if (!values.keep && values.root === undefined) await rm(root, { recursive: true, force: true });
    else log(`runs kept under ${root}`);
  }
  if (values.json !== undefined) await writeFile(values.json, `${JSON.stringify(reports, null, 2)}\n`);
  return reports.every((r) => r.totals.bitIdentical === r.totals.trials && r.totals.trialsWithProblems === 0) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);

import { mkdir, readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Rng, readMetricsJsonl, type MetricsRecord } from '@llm2clip/core';
import { runCliChild, type ChildResult, type KillPlan } from './child.js';
import { compareFinalCheckpoints, compareMetrics, compareTrees, findTempFiles } from './compare.js';
import { prepareStage, type FixtureOptions, type Stage, type StageFixture } from './fixtures.js';
import { inspectCheckpoints, tempOwner } from './inspect.js';
import type { FsOperation } from './inject.js';

/** The ways a run is killed (see {@link KillPlan}). */
export const KILL_MODES = ['inject', 'watch', 'timer'] as const;
/** One of {@link KILL_MODES}. */
export type KillMode = (typeof KILL_MODES)[number];

/** Options of {@link runCrashHarness}. */
export interface CrashHarnessOptions extends FixtureOptions {
  /** 1 (`llm finetune`) or 2 (`clip train`). */
  stage: Stage;
  /** Kill-and-resume trials. */
  trials: number;
  /** Seed of the kill schedule (and, through {@link FixtureOptions.seed}, not of the run). Default 1. */
  killSeed?: number;
  /** Scratch directory (fixtures, reference run, one run directory per trial). */
  root: string;
  /** Kills per trial at most; then the run is left to finish. Default 3. */
  maxKillsPerTrial?: number;
  /** Kill modes drawn from, uniformly. Default all of {@link KILL_MODES}. */
  modes?: readonly KillMode[];
  /** Delete each trial's run directory once it has been compared. Default true. */
  cleanTrials?: boolean;
  /** Receives one line per run, kill and trial. */
  log?: (line: string) => void;
  /**
   * Starts that fail at import (a missing export or module: a workspace package being rebuilt by
   * someone else) are retried this often, 20 s apart, and counted, instead of failing the trial.
   * Default 0 (a failed start fails the trial).
   */
  importRetries?: number;
}

/** One kill of one trial. */
export interface KillRecord {
  /** How it was killed. */
  mode: KillMode;
  /** The plan in words (delay, operation). */
  detail: string;
  /** Process killed. */
  pid: number;
  /** Newest complete checkpoint before this run started and after the kill. */
  stepBefore?: number;
  stepAfter?: number;
  /** The kill interrupted a checkpoint directory being written (its temp directory was left behind). */
  midCheckpointWrite: boolean;
  /** The kill landed in checkpoint code: mid-write, mid-removal of an old checkpoint, or at an injected operation on the checkpoints directory. */
  inCheckpointCode: boolean;
  /** For `inject`: the operation killed at. */
  operation?: FsOperation;
}

/** One trial: a run killed up to `maxKillsPerTrial` times, resumed each time, then compared. */
export interface TrialResult {
  trial: number;
  /** Processes started (kills + 1 when it finished). */
  runs: number;
  kills: KillRecord[];
  /** The run finished and its final checkpoint, exported weights and per-step metrics equal the reference exactly. */
  bitIdentical: boolean;
  /** What differed from the reference. */
  differences: string[];
  /** Broken checkpoints after a kill, lost progress, crashes not caused by a kill, hangs. */
  problems: string[];
  /** Temporary files and directories of interrupted atomic writes still under the run directory when the trial ended. */
  leftoverTemps: string[];
  seconds: number;
}

/** Everything {@link runCrashHarness} measured for one stage. */
export interface CrashHarnessReport {
  stage: Stage;
  steps: number;
  checkpointEvery: number;
  /** Wall time of the uninterrupted reference run (ms) and its counted file-system operations. */
  reference: { ms: number; operations: number };
  trials: TrialResult[];
  /** Starts retried because the CLI could not be loaded ({@link CrashHarnessOptions.importRetries}). */
  importRetries: number;
  totals: {
    trials: number;
    bitIdentical: number;
    kills: number;
    killsMidCheckpointWrite: number;
    killsInCheckpointCode: number;
    byMode: Record<KillMode, number>;
    /** Checkpoints found broken after a kill (should be 0). */
    brokenCheckpoints: number;
    /** Trials with any problem. */
    trialsWithProblems: number;
    /** Trials that ended with temporary files of interrupted writes still on disk, and how many such files. */
    trialsWithLeftoverTemps: number;
    leftoverTemps: number;
  };
}

function describePlan(plan: KillPlan): string {
  if (plan.mode === 'timer') return `SIGKILL after ${plan.delayMs.toFixed(0)} ms`;
  if (plan.mode === 'watch') return `SIGKILL ${plan.delayMs.toFixed(1)} ms after checkpoint temp dir #${plan.nth} appeared`;
  return `self-SIGKILL ${plan.when} match #${plan.nth} of /${plan.match}/`;
}

/** `"<op> <paths>"`: what an inject pattern is matched against. */
export function operationText(op: FsOperation): string {
  return `${op.op} ${op.paths.join(' ')}`;
}

/**
 * A pattern matching `op` in any run: the same function on the same file, with the process id and
 * random suffix of temporary names and the step number of checkpoint names generalised.
 */
export function operationPattern(op: FsOperation): string {
  const escaped = operationText(op).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `^${escaped.replace(/\\\.(tmp|old|del)-\d+-[0-9a-f]+/g, '\\.$1-\\d+-[0-9a-f]+').replace(/step-\d{8}/g, 'step-\\d{8}')}$`;
}

/** The records of `phase` in a `metrics.jsonl` (none when the file does not exist yet). */
async function readStepRecords(path: string, phase: string): Promise<MetricsRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  return readMetricsJsonl(text).filter((record) => record.phase === phase);
}

/** How a start fails when a workspace package is half rebuilt (missing export or file). */
const IMPORT_FAILURE = /SyntaxError: The requested module '[^']+' does not provide an export named '[^']+'|ERR_MODULE_NOT_FOUND|Cannot find module '[^']+'/;

function childFailure(result: ChildResult): string {
  const tail = result.stderr.trim().split('\n').slice(-8).join('\n');
  return result.timedOut ? `run hung (killed after ${Math.round(result.ms)} ms)` : `run failed without being killed (exit ${String(result.code)}, signal ${String(result.signal)}):\n${tail}`;
}

/**
 * The kill-and-resume harness for one stage: prepares tiny fixtures, runs an uninterrupted
 * reference, then for each trial starts the same run in a fresh directory and SIGKILLs it at a
 * seeded random moment — after a random delay (`timer`), the instant a checkpoint's temporary
 * directory appears (`watch`), or at a random file-system operation of the run, inside checkpoint
 * writes, pruning and exports (`inject`) — and restarts it with `--resume` until it finishes.
 *
 * After every kill, every complete checkpoint must load (`loadCheckpoint`) and the newest must
 * not have gone backwards; every restart must continue right after the newest checkpoint (its
 * first logged step; the run that finishes must also say so on stdout). At the end, the final checkpoint (weights, AdamW moments, RNG, cursor),
 * the exported weights and every logged step's loss/lr/grad norm must equal the reference's
 * byte for byte.
 */
export async function runCrashHarness(options: CrashHarnessOptions): Promise<CrashHarnessReport> {
  const log = options.log ?? (() => {});
  const maxKills = options.maxKillsPerTrial ?? 3;
  const modes = options.modes ?? KILL_MODES;
  const rng = new Rng(options.killSeed ?? 1);
  await mkdir(options.root, { recursive: true });
  const fixture: StageFixture = await prepareStage(options.stage, join(options.root, 'fixtures'), options);
  const steps = fixture.steps;
  const checkpoints = Math.ceil(steps / fixture.checkpointEvery);

  const referenceDir = join(options.root, 'reference');
  await rm(referenceDir, { recursive: true, force: true });
  const reference = await runCliChild(fixture.args(referenceDir, false), { countOperationsIn: referenceDir });
  if (reference.code !== 0) throw new Error(`the reference run failed: ${childFailure(reference)}`);
  const referenceOps = reference.operations ?? [];
  if (referenceOps.length === 0) throw new Error('the reference run wrote nothing under its run directory');
  const checkpointOps = referenceOps.filter((op) => op.paths.some((path) => path.startsWith('checkpoints/')));
  const operations = referenceOps.length;
  // timer kills: a third anywhere in the run (start-up included), the rest once training writes
  const firstCheckpointMs = reference.operations?.find((op) => op.paths.some((path) => path.startsWith('checkpoints/')))?.ms ?? 0;
  // (the last write of the reference, not its exit, bounds the delay: a plan past the end never fires)
  const lastWriteMs = Math.max(1, (referenceOps.at(-1)?.ms ?? reference.ms) * 0.95);
  const timerDelay = (): number => (rng.bernoulli(1 / 3) ? rng.uniform(0, lastWriteMs) : rng.uniform(Math.min(firstCheckpointMs * 0.8, lastWriteMs), lastWriteMs));
  log(`stage ${fixture.stage}: reference run of ${steps} steps in ${(reference.ms / 1000).toFixed(1)} s, ${operations} file operations`);

  const trials: TrialResult[] = [];
  let importRetries = 0;
  for (let trial = 0; trial < options.trials; trial++) {
    const started = performance.now();
    const runDir = join(options.root, `trial-${trial}`);
    const checkpointsDir = fixture.checkpointsDir(runDir);
    await rm(runDir, { recursive: true, force: true });
    const kills: KillRecord[] = [];
    const problems: string[] = [];
    let runs = 0;
    let finished = false;
    let latest: number | undefined;
    while (!finished && problems.length === 0) {
      // the share of the run still to do, for aiming kills at what this process will still do
      const left = (steps - (latest ?? 0)) / steps;
      let plan: KillPlan | undefined;
      let mode: KillMode | undefined;
      if (kills.length < maxKills) {
        // modes in turn (each trial starts one further), so every mode gets its share of kills
        mode = modes[(trial + kills.length) % modes.length];
        if (mode === 'timer') plan = { mode, delayMs: timerDelay() };
        else if (mode === 'watch') {
          const remaining = Math.max(1, Math.ceil(checkpoints * left));
          plan = { mode, dir: checkpointsDir, nth: rng.int(1, remaining), delayMs: rng.bernoulli(0.5) ? 0 : rng.uniform(0, 20) };
        } else {
          // the first injected kill of an even trial hits checkpoint code; all others any write of
          // the run (checkpoints, run config, metrics, MNTP adapter, export)
          const firstInject = !kills.some((k) => k.mode === 'inject');
          const pool = firstInject && trial % 2 === 0 ? checkpointOps : referenceOps;
          const target = rng.pick(pool.length > 0 ? pool : referenceOps);
          const match = operationPattern(target);
          const regex = new RegExp(match);
          const occurrences = referenceOps.filter((op) => regex.test(operationText(op))).length;
          plan = { mode, dir: runDir, match, nth: rng.int(1, Math.max(1, Math.ceil(occurrences * left))), when: rng.bernoulli(0.5) ? 'before' : 'after' };
        }
      }
      await mkdir(checkpointsDir, { recursive: true });
      const metricsPath = join(runDir, 'metrics.jsonl');
      const loggedBefore = (await readStepRecords(metricsPath, fixture.phases[0])).length;
      let result = await runCliChild(fixture.args(runDir, runs > 0), { kill: plan });
      // a workspace package being rebuilt by someone else can make a start fail at import: not a crash-safety fault
      for (let retry = 0; retry < (options.importRetries ?? 0) && !result.killed && result.code !== 0 && IMPORT_FAILURE.test(result.stderr); retry++) {
        importRetries += 1;
        log(`  trial ${trial}: run ${runs + 1} could not load the CLI (${IMPORT_FAILURE.exec(result.stderr)?.[0] ?? ''}); retrying in 20 s`);
        await new Promise((resolveWait) => setTimeout(resolveWait, 20_000));
        result = await runCliChild(fixture.args(runDir, runs > 0), { kill: plan });
      }
      runs += 1;
      // every restart, killed or not, must continue right after the newest checkpoint
      const firstLogged = (await readStepRecords(metricsPath, fixture.phases[0]))[loggedBefore]?.step;
      if (firstLogged !== undefined && firstLogged !== (latest ?? 0) + 1) {
        problems.push(`run ${runs} began with step ${String(firstLogged)}, but the newest checkpoint was ${String(latest ?? 'none')}`);
      }
      const killed = result.killed && result.signal === 'SIGKILL';
      if (result.timedOut || (!killed && result.code !== 0)) {
        problems.push(childFailure(result));
        break;
      }
      if (!killed) {
        finished = true;
        // a run that ignored its checkpoints and started over would end with the same weights: check where it started
        const startedAt = fixture.startStep(result.stdout);
        if (startedAt !== (latest ?? 0)) problems.push(`the finishing run started at step ${String(startedAt)}, but the newest checkpoint was ${String(latest ?? 'none')}`);
        log(`  trial ${trial}: run ${runs} finished (${(result.ms / 1000).toFixed(1)} s)${plan !== undefined ? `; planned ${describePlan(plan)} did not fire` : ''}`);
        break;
      }
      const inspection = await inspectCheckpoints(checkpointsDir);
      const owned = inspection.temps.map(tempOwner).filter((owner) => owner?.pid === result.pid);
      const midCheckpointWrite = owned.some((owner) => owner?.kind === 'write');
      const inCheckpointCode = owned.length > 0 || (result.injectedAt?.paths.some((path) => path.startsWith('checkpoints')) ?? false);
      const record: KillRecord = {
        mode: mode as KillMode,
        detail: `${describePlan(plan as KillPlan)}${result.injectedAt !== undefined ? ` (${result.injectedAt.op} ${result.injectedAt.paths.join(' → ')})` : ''} at ${Math.round(result.ms)} ms`,
        pid: result.pid,
        stepBefore: latest,
        stepAfter: inspection.latest,
        midCheckpointWrite,
        inCheckpointCode,
        operation: result.injectedAt,
      };
      kills.push(record);
      log(`  trial ${trial}: kill ${kills.length}: ${record.detail}; newest checkpoint ${String(latest ?? '-')} → ${String(inspection.latest ?? '-')}${midCheckpointWrite ? ', mid checkpoint write' : ''}`);
      for (const broken of inspection.broken) problems.push(`after kill ${kills.length} (${record.detail}): checkpoint step ${broken.step} does not load: ${broken.error}`);
      if (latest !== undefined && (inspection.latest === undefined || inspection.latest < latest)) {
        problems.push(`after kill ${kills.length} (${record.detail}): newest checkpoint went back from step ${latest} to ${String(inspection.latest ?? 'none')}`);
      }
      latest = inspection.latest;
    }
    const differences: string[] = [];
    if (finished) {
      differences.push(...(await compareFinalCheckpoints(fixture.checkpointsDir(referenceDir), checkpointsDir)));
      const [want, got] = [fixture.exportDirs(referenceDir), fixture.exportDirs(runDir)];
      for (const [i, dir] of want.entries()) differences.push(...(await compareTrees(dir, got[i], relative(referenceDir, dir))));
      for (const phase of fixture.phases) differences.push(...(await compareMetrics(join(referenceDir, 'metrics.jsonl'), join(runDir, 'metrics.jsonl'), phase)));
    }
    const leftoverTemps = await findTempFiles(runDir);
    const result: TrialResult = {
      trial,
      runs,
      kills,
      bitIdentical: finished && differences.length === 0 && problems.length === 0,
      differences,
      problems,
      leftoverTemps,
      seconds: (performance.now() - started) / 1000,
    };
    trials.push(result);
    log(
      `  trial ${trial}: ${kills.length} kills, ${runs} runs, ${result.bitIdentical ? 'bit-identical' : 'NOT bit-identical'}${leftoverTemps.length > 0 ? `, left behind: ${leftoverTemps.join(', ')}` : ''} (${result.seconds.toFixed(1)} s)` +
        [...problems, ...differences.slice(0, 10)].map((line) => `\n    ${line}`).join(''),
    );
    if ((options.cleanTrials ?? true) && result.bitIdentical) await rm(runDir, { recursive: true, force: true });
  }

  const allKills = trials.flatMap((t) => t.kills);
  const byMode = Object.fromEntries(KILL_MODES.map((mode) => [mode, allKills.filter((k) => k.mode === mode).length])) as Record<KillMode, number>;
  return {
    stage: fixture.stage,
    steps,
    checkpointEvery: fixture.checkpointEvery,
    reference: { ms: reference.ms, operations },
    trials,
    importRetries,
    totals: {
      trials: trials.length,
      bitIdentical: trials.filter((t) => t.bitIdentical).length,
      kills: allKills.length,
      killsMidCheckpointWrite: allKills.filter((k) => k.midCheckpointWrite).length,
      killsInCheckpointCode: allKills.filter((k) => k.inCheckpointCode).length,
      byMode,
      brokenCheckpoints: trials.reduce((sum, t) => sum + t.problems.filter((p) => p.includes('does not load')).length, 0),
      trialsWithProblems: trials.filter((t) => t.problems.length > 0).length,
      trialsWithLeftoverTemps: trials.filter((t) => t.leftoverTemps.length > 0).length,
      leftoverTemps: trials.reduce((sum, t) => sum + t.leftoverTemps.length, 0),
    },
  };
}

/** A few lines summarising a {@link CrashHarnessReport}. */
export function formatReport(report: CrashHarnessReport): string {
  const t = report.totals;
  return [
    `stage ${report.stage}: ${t.bitIdentical}/${t.trials} trials bit-identical to the uninterrupted run (${report.steps} steps, checkpoint every ${report.checkpointEvery})`,
    `  ${t.kills} SIGKILLs (inject ${t.byMode.inject}, watch ${t.byMode.watch}, timer ${t.byMode.timer}); ${t.killsMidCheckpointWrite} mid checkpoint write, ${t.killsInCheckpointCode} in checkpoint code`,
    `  broken checkpoints after a kill: ${t.brokenCheckpoints}; trials with problems: ${t.trialsWithProblems}; temp files left behind: ${t.leftoverTemps} in ${t.trialsWithLeftoverTemps} trials`,
    ...(report.importRetries > 0 ? [`  starts retried because the CLI could not be loaded (workspace being rebuilt): ${report.importRetries}`] : []),
  ].join('\n');
}

/**
 * `@llm2clip/crash-harness` (private tool): SIGKILLs stage-1 (`llm2clip llm finetune`) and stage-2
 * (`llm2clip clip train`) runs at random moments and inside checkpoint writes, resumes them with
 * `--resume`, and checks that every checkpoint stays loadable and that the finished run is
 * bit-identical to an uninterrupted one.
 *
 * @packageDocumentation
 */
export { runCrashHarness, formatReport, operationPattern, operationText, KILL_MODES, type KillMode, type CrashHarnessOptions, type CrashHarnessReport, type TrialResult, type KillRecord } from './harness.js';
export { prepareStage, prepareStage1, prepareStage2, type Stage, type StageFixture, type FixtureOptions } from './fixtures.js';
export { runCliChild, cliBinPath, type KillPlan, type RunCliOptions, type ChildResult } from './child.js';
export { inspectCheckpoints, tempOwner, type CheckpointInspection } from './inspect.js';
export { compareFinalCheckpoints, compareMetrics, compareTrees, findTempFiles, TEMP_NAME, DETERMINISTIC_METRIC_FIELDS } from './compare.js';
export type { FsOperation } from './inject.js';

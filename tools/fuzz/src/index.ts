/**
 * `@llm2clip/fuzz`: coverage-guided fuzzing of the project's file readers. The loop mutates inputs
 * and keeps those that reach new blocks of V8's precise block coverage (read through
 * `node:inspector`); each target feeds bytes to one reader and accepts only success or a typed
 * `Llm2ClipError`. See `tools/fuzz/README.md`.
 *
 * @packageDocumentation
 */
export { fuzz, replay, type FuzzOptions, type FuzzResult, type FuzzCrash } from './engine.js';
export { BlockCoverage, hitBucket } from './coverage.js';
export { mutate, mutateJsonValue, mutateJsonBytes, dictionaryKeys, type MutateOptions } from './mutate.js';
export type { FuzzTarget } from './target.js';
export { TARGETS, findTarget } from './targets/index.js';
export { splitCheckpointInput, joinCheckpointInput } from './targets/tensor-targets.js';
export { runTargetInChild, runRegressionFuzz, CI_FUZZ_SECONDS, type ChildRunOptions, type ChildRunResult } from './child.js';
export { ggufHeaderFields, mutateGgufHeader, ggufSeeds } from './targets/model-targets.js';

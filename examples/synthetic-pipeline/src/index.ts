/**
 * The end-to-end LLM2CLIP pipeline on built-in synthetic data — what `llm2clip demo` runs.
 *
 * @packageDocumentation
 */
export { pipelineConfigSchema, resolvePipelineConfig, type PipelineConfig, type PipelinePreset } from './config.js';
export { runSyntheticPipeline, type RunPipelineOptions, type PipelineSummary } from './run-pipeline.js';
export { PIPELINE_STEPS, PIPELINE_STATE_FORMAT, PIPELINE_STATE_VERSION, PipelineStateFile, type PipelineStep, type PipelineState, type StepRecord } from './pipeline-state.js';
export { headlineRows, renderHeadlineTable, type HeadlineRow } from './headline-table.js';

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Llm2ClipError, writeJsonAtomic } from '@llm2clip/core';

/** `format` of `pipeline.json`, which records which steps of a run are complete. */
export const PIPELINE_STATE_FORMAT = 'llm2clip.synthetic-pipeline';
/** Version of the `pipeline.json` layout. */
export const PIPELINE_STATE_VERSION = 1;

/** The steps of the synthetic pipeline, in order. */
export const PIPELINE_STEPS = ['data', 'clm', 'stage1', 'embed', 'llm2clip', 'baseline', 'eval'] as const;
/** One step of {@link PIPELINE_STEPS}. */
export type PipelineStep = (typeof PIPELINE_STEPS)[number];

/** What a finished step recorded (numbers and paths the later steps or the report need). */
export type StepRecord = Record<string, number | string | boolean | number[]>;

/** Contents of `pipeline.json`. */
export interface PipelineState {
  format: typeof PIPELINE_STATE_FORMAT;
  version: number;
  /** Fingerprint of the configuration the run was started with. */
  configFingerprint: string;
  /** Finished steps and what they recorded. */
  steps: Partial<Record<PipelineStep, StepRecord & { seconds: number }>>;
}

/**
 * The completion record of a run directory. Each finished step is written atomically, so a killed
 * run restarts at the first unfinished step (and that step resumes from its own checkpoints).
 */
export class PipelineStateFile {
  readonly path: string;
  private state: PipelineState;

  private constructor(path: string, state: PipelineState) {
    this.path = path;
    this.state = state;
  }

  /** Opens `runDir/pipeline.json`, or starts a new one; a different config is an `E_MISMATCH`. */
  static async open(runDir: string, configFingerprint: string): Promise<PipelineStateFile> {
    const path = join(runDir, 'pipeline.json');
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      text = undefined;
    }
    if (text === undefined) {
      return new PipelineStateFile(path, { format: PIPELINE_STATE_FORMAT, version: PIPELINE_STATE_VERSION, configFingerprint, steps: {} });
    }
    let state: PipelineState;
    try {
      state = JSON.parse(text) as PipelineState;
    } catch (cause) {
      throw new Llm2ClipError('E_FORMAT', 'pipeline.json is not valid JSON', { path, cause });
    }
    if (state.format !== PIPELINE_STATE_FORMAT || state.version !== PIPELINE_STATE_VERSION) {
      throw new Llm2ClipError('E_FORMAT', `expected ${PIPELINE_STATE_FORMAT} v${PIPELINE_STATE_VERSION}`, { path });
    }
    if (state.configFingerprint !== configFingerprint) {
      throw new Llm2ClipError('E_MISMATCH', 'this run directory was started with another configuration; pass --fresh or another --name', { path });
    }
    return new PipelineStateFile(path, state);
  }

  /** The record of `step`, if it finished. */
  get(step: PipelineStep): (StepRecord & { seconds: number }) | undefined {
    return this.state.steps[step];
  }

  /** Seconds each finished step took, in step order. */
  secondsPerStep(): Partial<Record<PipelineStep, number>> {
    const out: Partial<Record<PipelineStep, number>> = {};
    for (const step of PIPELINE_STEPS) {
      const seconds = this.state.steps[step]?.seconds;
      if (seconds !== undefined) out[step] = seconds;
    }
    return out;
  }

  /** Marks `step` finished with its record. */
  async complete(step: PipelineStep, record: StepRecord, seconds: number): Promise<void> {
    this.state = { ...this.state, steps: { ...this.state.steps, [step]: { ...record, seconds } } };
    await writeJsonAtomic(this.path, this.state);
  }
}

/** A learning-rate schedule: the rate for a 0-based step. */
export type LrSchedule = (step: number) => number;

/** Options shared by the warm-up schedules. */
export interface WarmupScheduleOptions {
  /** Peak learning rate. */
  baseLr: number;
  /** Linear warm-up steps from 0 to `baseLr`. */
  warmupSteps: number;
  /** Total steps of the run. */
  totalSteps: number;
  /** Final learning rate (default 0). */
  minLr?: number;
}

/** Linear warm-up, then cosine decay to `minLr` (open_clip's `cosine_lr`). */
export function warmupCosineSchedule(options: WarmupScheduleOptions): LrSchedule {
  const { baseLr, warmupSteps, totalSteps, minLr = 0 } = options;
  return (step) => {
    if (step < warmupSteps) return (baseLr * (step + 1)) / warmupSteps;
    const span = Math.max(1, totalSteps - warmupSteps);
    const progress = Math.min(1, (step - warmupSteps) / span);
    return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (baseLr - minLr);
  };
}

/** Linear warm-up, then linear decay to `minLr` (transformers' `get_linear_schedule_with_warmup`). */
export function warmupLinearSchedule(options: WarmupScheduleOptions): LrSchedule {
  const { baseLr, warmupSteps, totalSteps, minLr = 0 } = options;
  return (step) => {
    if (step < warmupSteps) return (baseLr * (step + 1)) / warmupSteps;
    const span = Math.max(1, totalSteps - warmupSteps);
    const progress = Math.min(1, (step - warmupSteps) / span);
    return minLr + (1 - progress) * (baseLr - minLr);
  };
}

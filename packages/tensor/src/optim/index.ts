export { computeGradients, disposeGradients, accumulateGradients, type GradientResult } from './gradients.js';
export { clipGradNorm } from './clip-grad-norm.js';
export { AdamW, type AdamWOptions, type AdamWState, type ParamGroupSettings } from './adamw.js';
export { warmupCosineSchedule, warmupLinearSchedule, type LrSchedule, type WarmupScheduleOptions } from './schedules.js';

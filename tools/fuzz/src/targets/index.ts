import type { FuzzTarget } from '../target.js';
import { cocoTarget, csvTarget, docciTarget, imageTarget, jsonlTarget, karpathyTarget, manifestTarget, sharegpt4vTarget, sidecarTarget, tarTarget, webdatasetTarget } from './data-targets.js';
import { checkpointTarget, safetensorsTarget } from './tensor-targets.js';
import { ggufTarget, modelConfigTarget, shardIndexTarget, tokenizerJsonTarget } from './model-targets.js';

/** Every fuzz target, in the order `pnpm fuzz` runs them. */
export const TARGETS: readonly FuzzTarget[] = [
  safetensorsTarget,
  checkpointTarget,
  ggufTarget,
  shardIndexTarget,
  modelConfigTarget,
  tokenizerJsonTarget,
  tarTarget,
  webdatasetTarget,
  sidecarTarget,
  csvTarget,
  jsonlTarget,
  cocoTarget,
  karpathyTarget,
  sharegpt4vTarget,
  docciTarget,
  manifestTarget,
  imageTarget,
];

/** The target called `name`, or undefined. */
export function findTarget(name: string): FuzzTarget | undefined {
  return TARGETS.find((target) => target.name === name);
}

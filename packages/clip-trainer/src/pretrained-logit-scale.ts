import { join } from 'node:path';
import { Llm2ClipError, isLlm2ClipError } from '@llm2clip/core';
import { readSafetensors, type HostTensor } from '@llm2clip/tensor';
import { OPEN_CLIP_WEIGHTS, fileExists, readModelWeights } from '@llm2clip/vision';

/** CLIP's initial logit scale, ln(1 / 0.07), used when the pretrained model has none. */
export const DEFAULT_LOGIT_SCALE = Math.log(1 / 0.07);

async function weightsOf(dir: string): Promise<{ tensors: Map<string, HostTensor>; path: string } | undefined> {
  try {
    return await readModelWeights(dir);
  } catch (error) {
    if (!isLlm2ClipError(error, 'E_NOT_FOUND')) throw error;
  }
  const openClip = join(dir, OPEN_CLIP_WEIGHTS);
  if (await fileExists(openClip)) return { tensors: (await readSafetensors(openClip)).tensors, path: openClip };
  return undefined;
}

/**
 * The learned `logit_scale` (log inverse temperature) of a pretrained CLIP directory — Hugging
 * Face `CLIPModel` weights (`model.safetensors` or sharded) or open_clip's
 * `open_clip_model.safetensors` carry it; a vision-only checkpoint does not: the value, or
 * `undefined` when absent. Stage 2 starts its temperature there, as LLM2CLIP does when it
 * fine-tunes a pretrained CLIP.
 */
export async function readPretrainedLogitScale(dir: string): Promise<number | undefined> {
  const weights = await weightsOf(dir);
  const tensor = weights?.tensors.get('logit_scale');
  if (weights === undefined || tensor === undefined) return undefined;
  if (tensor.data.length !== 1) throw new Llm2ClipError('E_SHAPE', `logit_scale must be a scalar, found shape [${tensor.shape}]`, { path: weights.path, field: 'logit_scale' });
  const value = Number(tensor.data[0]);
  if (!Number.isFinite(value)) throw new Llm2ClipError('E_FORMAT', `logit_scale is ${value}`, { path: weights.path, field: 'logit_scale' });
  return value;
}

import type * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { Llm2ClipError, type Rng } from '@llm2clip/core';
import { refusePickleFile, refusePickleOnlyDirectory, type ParameterStore } from '@llm2clip/tensor';
import { ClipVisionModel, type ClipVisionLoadOptions } from './vit.js';
import { Eva02VisionModel } from './eva-vit.js';
import { readConfigJson, fileExists } from './hf-weights.js';
import { OPEN_CLIP_CONFIG, OPEN_CLIP_WEIGHTS, isEvaModelConfig } from './open-clip.js';
import type { Companion } from './companion.js';

/**
 * What LLM2CLIP's stage 2 needs from an image tower, whichever architecture: forward to the
 * projection, named weights, a fresh projection, lock groups, save, fingerprint, dispose.
 * {@link ClipVisionModel} (OpenAI / OpenCLIP ViTs) and {@link Eva02VisionModel} implement it.
 */
export interface VisionTower {
  /** Output dimension of the projection. */
  readonly dim: number;
  /** Number of transformer blocks (for layer-wise learning-rate decay). */
  readonly numLayers: number;
  /** Architecture fields; `image_size` is the square input side. */
  readonly config: { image_size: number; projection_dim: number };
  /** Named weights. */
  readonly parameters: ParameterStore;
  /** Features `[batch, dim]` of normalised pixels `[batch, 3, image_size, image_size]` (caller owns them). */
  forward(pixels: tf.Tensor4D): tf.Tensor2D;
  /** Replaces the projection with a fresh `dim`-wide one. */
  resetProjection(dim: number, rng: Rng): void;
  /** Freezes all but the last `unlockedGroups` groups. */
  lock(unlockedGroups?: number, options?: { freezeNorms?: boolean }): void;
  /** Makes every weight trainable. */
  unlock(): void;
  /** Writes the tower (and companions) in a layout Python loads. */
  save(dir: string, options?: { companions?: Record<string, Companion> }): Promise<void>;
  /** Stable hash of config and weights. */
  fingerprint(): string;
  /** Frees the weights. */
  dispose(): void;
}

/**
 * Loads whichever vision tower `dir` holds: an EVA02 tower (timm `config.json` with an
 * `architecture`, or an open_clip / EVA-CLIP config with `vision_cfg.eva_model_name`) as
 * {@link Eva02VisionModel}, otherwise a CLIP ViT (Hugging Face or open_clip layout) as
 * {@link ClipVisionModel}. A directory holding only pickle weights (`pytorch_model.bin`,
 * `open_clip_pytorch_model.bin`) and no config is `E_FORMAT` with the conversion command.
 */
export async function loadVisionTower(dir: string, options: ClipVisionLoadOptions = {}): Promise<ClipVisionModel | Eva02VisionModel> {
  // a pickle checkpoint given instead of a directory
  refusePickleFile(dir);
  if (await fileExists(join(dir, 'config.json'))) {
    const json = (await readConfigJson(dir)) as Record<string, unknown>;
    if (typeof json.architecture === 'string' || json.vision_cfg !== undefined) return Eva02VisionModel.fromPretrained(dir, options);
    return ClipVisionModel.fromPretrained(dir, options);
  }
  if (await fileExists(join(dir, OPEN_CLIP_CONFIG))) {
    if (isEvaModelConfig(await readConfigJson(dir, OPEN_CLIP_CONFIG))) return Eva02VisionModel.fromPretrained(dir, options);
    return ClipVisionModel.fromPretrained(dir, options);
  }
  // a directory of pickle weights only: the conversion command, to the name each layout loads
  const openClipOnly = !(await fileExists(join(dir, 'pytorch_model.bin'))) && (await fileExists(join(dir, 'open_clip_pytorch_model.bin')));
  if (openClipOnly) await refusePickleOnlyDirectory(dir, OPEN_CLIP_WEIGHTS, ['open_clip_pytorch_model.bin']);
  else await refusePickleOnlyDirectory(dir, undefined, ['pytorch_model.bin']);
  throw new Llm2ClipError('E_NOT_FOUND', `no config.json or ${OPEN_CLIP_CONFIG}`, { path: dir });
}

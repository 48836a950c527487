import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Llm2ClipError,
  embeddingMatrix,
  fingerprint,
  writeJsonAtomic,
  type EmbedOptions,
  type EmbeddingMatrix,
  type ImageEmbedder,
  type ModelDescription,
  type TextEmbedder,
} from '@llm2clip/core';
import { ClipImageEmbedder, ClipTextEmbedder, ClipTextModel, ClipTextTokenizer, ImagePreprocessor, loadVisionTower, type ClipVisionModel, type Eva02VisionModel } from '@llm2clip/vision';
import { writeSafetensors } from '@llm2clip/tensor';
import { TextAdapter } from './adapter.js';

/** `format` of `llm2clip.json` in a saved CLIP model directory. */
export const CLIP_MODEL_FORMAT = 'llm2clip.clip-model';
/** Current saved-model layout version. */
export const CLIP_MODEL_VERSION = 1;
/** The adapter weights under LLM2CLIP's `TextProj` state-dict names, in `adapter/`. */
export const LLM2CLIP_TEXT_PROJ_FILE = 'llm2clip_text_proj.safetensors';

/** The trained text side: the adapter over a frozen teacher, or the CLIP text tower. */
export type TrainedTextTower =
  | { kind: 'llm2clip'; adapter: TextAdapter; teacher?: ModelDescription }
  | { kind: 'baseline'; model: ClipTextModel; tokenizer: ClipTextTokenizer };

/**
 * LLM2CLIP's text embedder for evaluation: captions → frozen teacher (the LLM) → trained
 * adapter, so captions never seen in training can be embedded. Owns neither model.
 */
export class AdapterTextEmbedder implements TextEmbedder {
  private readonly teacher: TextEmbedder;
  private readonly adapter: TextAdapter;

  constructor(teacher: TextEmbedder, adapter: TextAdapter) {
    if (teacher.dim !== adapter.config.inputDim) {
      throw new Llm2ClipError('E_MISMATCH', `teacher dim ${teacher.dim} differs from the adapter input dim ${adapter.config.inputDim}`, { field: 'inputDim' });
    }
    this.teacher = teacher;
    this.adapter = adapter;
  }

  /** Output dimension (the adapter's). */
  get dim(): number {
    return this.adapter.dim;
  }

  /** Teacher embeddings of `texts` mapped through the adapter, in input order. */
  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<EmbeddingMatrix> {
    const teacherRows = await this.teacher.embed(texts, options);
    const input = tf.tensor2d(teacherRows.data, [teacherRows.rows, teacherRows.dim], 'float32');
    try {
      const output = this.adapter.forward(input);
      const data = (await output.data()) as Float32Array;
      output.dispose();
      return embeddingMatrix(texts.length, this.dim, data);
    } finally {
      input.dispose();
    }
  }

  /** `llm2clip-text` with a fingerprint of the teacher's and the adapter's. */
  describe(): ModelDescription {
    const teacher = this.teacher.describe();
    return { name: `llm2clip-text (${teacher.name} + adapter)`, fingerprint: fingerprint(teacher.fingerprint, this.adapter.fingerprint()), details: { teacher, adapter: this.adapter.config } };
  }
}

/**
 * The result of stage 2: the trained vision tower, the trained text side and the learned
 * temperature, with embedders for `@llm2clip/eval` and a Hugging Face-style save.
 */
export class TrainedClipModel {
  /** The trained vision tower (with its fresh projection): a CLIP ViT or an EVA02 tower. */
  readonly vision: ClipVisionModel | Eva02VisionModel;
  /** The trained text side. */
  readonly text: TrainedTextTower;
  /** Evaluation preprocessing of the vision tower. */
  readonly preprocessor: ImagePreprocessor;
  /** Learned `logit_scale` (log of the inverse temperature). */
  readonly logitScale: number;

  constructor(vision: ClipVisionModel | Eva02VisionModel, text: TrainedTextTower, preprocessor: ImagePreprocessor, logitScale: number) {
    this.vision = vision;
    this.text = text;
    this.preprocessor = preprocessor;
    this.logitScale = logitScale;
  }

  /** An {@link ImageEmbedder} over the vision tower (evaluation preprocessing). */
  imageEmbedder(options: { batchSize?: number } = {}): ImageEmbedder {
    return new ClipImageEmbedder(this.vision, this.preprocessor, { batchSize: options.batchSize, name: this.text.kind === 'llm2clip' ? 'llm2clip-vit' : 'clip-vit' });
  }

  /**
   * A {@link TextEmbedder} for the text side: LLM2CLIP needs the frozen `teacher` (the same model
   * that wrote the cache; a different fingerprint is an `E_MISMATCH`); the baseline ignores it.
   */
  textEmbedder(teacher?: TextEmbedder): TextEmbedder {
    if (this.text.kind === 'baseline') return new ClipTextEmbedder(this.text.model, this.text.tokenizer);
    if (teacher === undefined) throw new Llm2ClipError('E_CONFIG', 'the LLM2CLIP text side needs the frozen teacher embedder', { field: 'teacher' });
    const expected = this.text.teacher?.fingerprint;
    const actual = teacher.describe().fingerprint;
    if (expected !== undefined && expected !== actual) {
      throw new Llm2ClipError('E_MISMATCH', `teacher fingerprint ${actual} differs from the one the cache was built with (${expected})`, { field: 'teacher' });
    }
    return new AdapterTextEmbedder(teacher, this.text.adapter);
  }

  /** Writes the model with {@link saveClipModel}. */
  save(dir: string): Promise<void> {
    return saveClipModel(this, dir);
  }

  /** Frees the vision tower and the text side's weights. */
  dispose(): void {
    this.vision.dispose();
    if (this.text.kind === 'llm2clip') this.text.adapter.dispose();
    else this.text.model.dispose();
  }
}

/**
 * Saves a trained model into `dir`: the vision tower with its own `save` — a CLIP ViT in the
 * Hugging Face `CLIPVisionModelWithProjection` layout (`config.json`, `model.safetensors`), an
 * EVA02 tower in timm's layout — a
 * `preprocessor_config.json` (`CLIPImageProcessor`), the text side beside it — `adapter/`
 * (LLM2CLIP; also as `llm2clip_text_proj.safetensors` under LLM2CLIP's `TextProj` names) or `text/` (CLIP text tower + `tokenizer.json`) — and `llm2clip.json` (format,
 * version, text side, logit scale, teacher) last. Every file is written atomically.
 */
export async function saveClipModel(model: TrainedClipModel, dir: string): Promise<void> {
  await model.vision.save(dir);
  const pre = model.preprocessor;
  await writeJsonAtomic(join(dir, 'preprocessor_config.json'), {
    image_processor_type: 'CLIPImageProcessor',
    do_resize: true,
    size: { shortest_edge: pre.imageSize },
    resample: 3,
    do_center_crop: true,
    crop_size: { height: pre.imageSize, width: pre.imageSize },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: pre.mean,
    image_std: pre.std,
    do_convert_rgb: true,
  });
  if (model.text.kind === 'llm2clip') {
    await model.text.adapter.save(join(dir, 'adapter'));
    // the same weights under LLM2CLIP's `TextProj` names, for `text_proj.load_state_dict` in PyTorch
    await writeSafetensors(join(dir, 'adapter', LLM2CLIP_TEXT_PROJ_FILE), model.text.adapter.toLlm2ClipStateDict(), { format: 'pt' });
  } else {
    await model.text.model.save(join(dir, 'text'));
    await model.text.tokenizer.save(join(dir, 'text'));
  }
  await writeJsonAtomic(join(dir, 'llm2clip.json'), {
    format: CLIP_MODEL_FORMAT,
    version: CLIP_MODEL_VERSION,
    textSide: model.text.kind,
    logitScale: model.logitScale,
    contextLength: model.text.kind === 'baseline' ? model.text.tokenizer.contextLength : undefined,
    teacher: model.text.kind === 'llm2clip' ? model.text.teacher : undefined,
  });
}

/** Loads a directory written by {@link saveClipModel} (the vision tower through `loadVisionTower`). */
export async function loadClipModel(dir: string): Promise<TrainedClipModel> {
  const infoPath = join(dir, 'llm2clip.json');
  let info: { format?: unknown; version?: unknown; textSide?: unknown; logitScale?: unknown; contextLength?: number; teacher?: ModelDescription };
  try {
    info = JSON.parse(await readFile(infoPath, 'utf8'));
  } catch (cause) {
    throw new Llm2ClipError('E_NOT_FOUND', 'cannot read llm2clip.json', { path: infoPath, cause });
  }
  if (info.format !== CLIP_MODEL_FORMAT || info.version !== CLIP_MODEL_VERSION) {
    throw new Llm2ClipError('E_FORMAT', `expected ${CLIP_MODEL_FORMAT} v${CLIP_MODEL_VERSION}, found ${String(info.format)} v${String(info.version)}`, { path: infoPath, field: 'format' });
  }
  const vision = await loadVisionTower(dir);
  const pre = JSON.parse(await readFile(join(dir, 'preprocessor_config.json'), 'utf8')) as { size?: { shortest_edge?: number }; image_mean?: number[]; image_std?: number[] };
  const preprocessor = new ImagePreprocessor({ imageSize: pre.size?.shortest_edge ?? vision.config.image_size, mean: pre.image_mean, std: pre.image_std });
  let text: TrainedTextTower;
  if (info.textSide === 'llm2clip') {
    text = { kind: 'llm2clip', adapter: await TextAdapter.load(join(dir, 'adapter')), teacher: info.teacher };
  } else if (info.textSide === 'baseline') {
    const model = await ClipTextModel.fromPretrained(join(dir, 'text'));
    const tokenizer = await ClipTextTokenizer.fromFile(join(dir, 'text', 'tokenizer.json'), {
      contextLength: info.contextLength,
      bosTokenId: model.config.bos_token_id,
      eosTokenId: model.config.eos_token_id,
      padTokenId: model.config.pad_token_id,
    });
    text = { kind: 'baseline', model, tokenizer };
  } else {
    throw new Llm2ClipError('E_FORMAT', `unknown text side ${String(info.textSide)}`, { path: infoPath, field: 'textSide' });
  }
  return new TrainedClipModel(vision, text, preprocessor, typeof info.logitScale === 'number' ? info.logitScale : Math.log(1 / 0.07));
}

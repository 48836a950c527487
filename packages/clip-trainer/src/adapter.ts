import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { Llm2ClipError, fingerprint, writeJsonAtomic, type Rng } from '@llm2clip/core';
import { ParameterStore, gelu, type HostTensor, kaimingUniformInit, l2Normalize, layerNorm, linear, onesInit, readSafetensors, writeSafetensors, zerosInit } from '@llm2clip/tensor';

/** `format` of `adapter_config.json`. */
export const ADAPTER_FORMAT = 'llm2clip.text-adapter';
/** Current adapter layout version. */
export const ADAPTER_VERSION = 1;
/** File name of the adapter weights. */
export const ADAPTER_WEIGHTS_FILE = 'adapter.safetensors';

/** Shape of the LLM2CLIP text adapter. */
export const TextAdapterConfig = z.object({
  /** Dimension of the cached LLM embeddings. */
  inputDim: z.number().int().positive(),
  /** Output dimension (the CLIP projection dim, shared with the vision projection). */
  outputDim: z.number().int().positive(),
  /** Residual MLP blocks. Default 4. */
  numBlocks: z.number().int().nonnegative().default(4),
  /** Hidden width of each block as a multiple of `inputDim`. Default 2. */
  expansion: z.number().int().positive().default(2),
  /** Layer-norm epsilon. Default 1e-5. */
  layerNormEps: z.number().positive().default(1e-5),
  /** Bias on the output projection, as LLM2CLIP's `TextProj` (`proj_bias=True`). Default true. */
  projBias: z.boolean().default(true),
});
/** Parsed {@link TextAdapterConfig}. */
export type TextAdapterConfig = z.infer<typeof TextAdapterConfig>;
/** Input of {@link TextAdapterConfig}. */
export type TextAdapterConfigInput = z.input<typeof TextAdapterConfig>;

/**
 * LLM2CLIP's trainable text head on top of frozen LLM caption embeddings:
 * `x ← l2norm(x)`; per block `x ← x + fc2(GELU(fc1(LN(x))))` (d → 2d → d, exact GELU); then
 * `proj(LN(x))` to the CLIP dimension — LLM2CLIP's `TextProj` (`eva_clip/model.py`: `LinearBlock`s of
 * `x + fn(ln(x))`, `fn = Linear(d, 2d) → nn.GELU() → Dropout → Linear(2d, d)`, then `nn.LayerNorm`,
 * `nn.Linear(d, out, bias=True)`). Weights: `adapter.blocks.N.{norm,fc1,fc2}.*`, `adapter.norm.*`,
 * `adapter.proj.weight` and (with `projBias`) `adapter.proj.bias`; {@link toLlm2ClipStateDict}
 * renames them to `TextProj`'s state-dict names.
 */
export class TextAdapter {
  /** The architecture. */
  readonly config: TextAdapterConfig;
  /** The named weights. */
  readonly parameters: ParameterStore;

  private constructor(config: TextAdapterConfig, store: ParameterStore) {
    this.config = config;
    this.parameters = store;
  }

  /** Output dimension. */
  get dim(): number {
    return this.config.outputDim;
  }

  /** A fresh adapter: Linear weights PyTorch-style (uniform ±1/√fanIn, drawn from `rng`), zero biases. */
  static create(config: TextAdapterConfigInput, rng: Rng): TextAdapter {
    return TextAdapter.build(TextAdapter.parse(config), (shape, fanIn) => kaimingUniformInit(rng, shape, fanIn));
  }

  private static parse(config: unknown, path?: string): TextAdapterConfig {
    const result = TextAdapterConfig.safeParse(config);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new Llm2ClipError('E_CONFIG', `invalid adapter config: ${issue.message}`, { path, field: issue.path.join('.') || undefined });
    }
    return result.data;
  }

  private static build(config: TextAdapterConfig, init: (shape: number[], fanIn: number) => tf.Tensor): TextAdapter {
    const store = new ParameterStore();
    const add = (name: string, value: tf.Tensor): void => void store.add(name, value);
    const d = config.inputDim;
    const inner = d * config.expansion;
    for (let block = 0; block < config.numBlocks; block++) {
      const p = `adapter.blocks.${block}`;
      add(`${p}.norm.weight`, onesInit([d]));
      add(`${p}.norm.bias`, zerosInit([d]));
      add(`${p}.fc1.weight`, init([inner, d], d));
      add(`${p}.fc1.bias`, zerosInit([inner]));
      add(`${p}.fc2.weight`, init([d, inner], inner));
      add(`${p}.fc2.bias`, zerosInit([d]));
    }
    add('adapter.norm.weight', onesInit([d]));
    add('adapter.norm.bias', zerosInit([d]));
    add('adapter.proj.weight', init([config.outputDim, d], d));
    if (config.projBias) add('adapter.proj.bias', zerosInit([config.outputDim]));
    return new TextAdapter(config, store);
  }

  /** Loads `adapter_config.json` + `adapter.safetensors` from `dir`. */
  static async load(dir: string): Promise<TextAdapter> {
    const configPath = join(dir, 'adapter_config.json');
    let json: { format?: unknown; version?: unknown; config?: unknown };
    try {
      json = JSON.parse(await readFile(configPath, 'utf8'));
    } catch (cause) {
      throw new Llm2ClipError('E_NOT_FOUND', 'cannot read adapter_config.json', { path: configPath, cause });
    }
    if (json.format !== ADAPTER_FORMAT) throw new Llm2ClipError('E_FORMAT', `expected format "${ADAPTER_FORMAT}", found "${String(json.format)}"`, { path: configPath, field: 'format' });
    if (json.version !== ADAPTER_VERSION) throw new Llm2ClipError('E_FORMAT', `unsupported adapter version ${String(json.version)}`, { path: configPath, field: 'version' });
    // version-1 configs written before `projBias` existed had a bias-free projection
    const raw = json.config !== null && typeof json.config === 'object' && !('projBias' in json.config) ? { ...json.config, projBias: false } : json.config;
    const config = TextAdapter.parse(raw, configPath);
    const adapter = TextAdapter.build(config, (shape) => zerosInit(shape));
    const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE);
    try {
      adapter.parameters.loadHost((await readSafetensors(weightsPath)).tensors, { strict: true, path: weightsPath });
    } catch (error) {
      adapter.dispose();
      throw error;
    }
    return adapter;
  }

  /**
   * An adapter from weights under LLM2CLIP's `TextProj` names (see {@link toLlm2ClipStateDict}),
   * e.g. a `text_proj` state dict saved from PyTorch; `prefix` is stripped first. Missing or
   * mis-shaped weights are `E_MISMATCH` / `E_SHAPE`.
   */
  static fromLlm2ClipStateDict(tensors: Map<string, HostTensor>, config: TextAdapterConfigInput, options: { prefix?: string; path?: string } = {}): TextAdapter {
    const adapter = TextAdapter.build(TextAdapter.parse(config, options.path), (shape) => zerosInit(shape));
    const prefix = options.prefix ?? '';
    const ours = new Map<string, HostTensor>();
    try {
      for (const [name, theirs] of adapter.llm2clipNames()) {
        const tensor = tensors.get(`${prefix}${theirs}`);
        if (tensor !== undefined) ours.set(name, tensor);
      }
      adapter.parameters.loadHost(ours, { strict: true, path: options.path });
    } catch (error) {
      adapter.dispose();
      throw error;
    }
    return adapter;
  }

  /** Our weight names → LLM2CLIP `TextProj` names. */
  private llm2clipNames(): Map<string, string> {
    const blocks = this.config.numBlocks;
    const out = new Map<string, string>();
    for (const name of this.parameters.names()) {
      const block = /^adapter\.blocks\.(\d+)\.(norm|fc1|fc2)\.(weight|bias)$/.exec(name);
      const tail = /^adapter\.(norm|proj)\.(weight|bias)$/.exec(name);
      if (block !== null) out.set(name, `text_adaptor.${block[1]}.${{ norm: 'ln', fc1: 'fn.0', fc2: 'fn.3' }[block[2] as 'norm' | 'fc1' | 'fc2']}.${block[3]}`);
      else if (tail !== null) out.set(name, `text_adaptor.${tail[1] === 'norm' ? blocks : blocks + 1}.${tail[2]}`);
      else throw new Llm2ClipError('E_STATE', 'unexpected adapter weight', { field: name });
    }
    return out;
  }

  /** Writes `adapter.safetensors`, then `adapter_config.json` (format, version, config), atomically. */
  async save(dir: string): Promise<void> {
    await writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), this.parameters.toHost(), { format: 'pt' });
    await writeJsonAtomic(join(dir, 'adapter_config.json'), { format: ADAPTER_FORMAT, version: ADAPTER_VERSION, config: this.config });
  }

  /** Maps LLM embeddings `[batch, inputDim]` to `[batch, outputDim]` (caller owns the result). */
  forward(embeddings: tf.Tensor2D): tf.Tensor2D {
    if (embeddings.rank !== 2 || embeddings.shape[1] !== this.config.inputDim) {
      throw new Llm2ClipError('E_SHAPE', `adapter expects [batch, ${this.config.inputDim}], got [${embeddings.shape}]`, { field: 'embeddings' });
    }
    return tf.tidy(() => {
      const s = this.parameters;
      const eps = this.config.layerNormEps;
      let x = l2Normalize(embeddings);
      for (let block = 0; block < this.config.numBlocks; block++) {
        const p = `adapter.blocks.${block}`;
        const h = layerNorm(x, s.get(`${p}.norm.weight`), s.get(`${p}.norm.bias`), eps);
        const inner = gelu(linear(h, s.get(`${p}.fc1.weight`), s.get(`${p}.fc1.bias`)));
        x = tf.add(x, linear(inner, s.get(`${p}.fc2.weight`), s.get(`${p}.fc2.bias`)));
      }
      const bias = this.config.projBias ? s.get('adapter.proj.bias') : undefined;
      return linear(layerNorm(x, s.get('adapter.norm.weight'), s.get('adapter.norm.bias'), eps), s.get('adapter.proj.weight'), bias) as tf.Tensor2D;
    });
  }

  /**
   * The weights under LLM2CLIP's `TextProj` state-dict names (`text_adaptor.N.ln.*`,
   * `text_adaptor.N.fn.0.*`, `text_adaptor.N.fn.3.*`, then `text_adaptor.{blocks}.*` for the final
   * LayerNorm and `text_adaptor.{blocks + 1}.*` for the projection), host copies.
   */
  toLlm2ClipStateDict(prefix = ''): Map<string, HostTensor> {
    const names = this.llm2clipNames();
    const out = new Map<string, HostTensor>();
    for (const [name, tensor] of this.parameters.toHost()) out.set(`${prefix}${names.get(name) as string}`, tensor);
    return out;
  }

  /** Stable hash of the config and weights. */
  fingerprint(): string {
    return fingerprint(this.config, this.parameters.fingerprint());
  }

  /** Frees the weights. */
  dispose(): void {
    this.parameters.dispose();
  }
}

import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Llm2ClipError, fingerprint, writeJsonAtomic, type Rng } from '@llm2clip/core';
import { ParameterStore, kaimingUniformInit, linear, readSafetensors, refusePickleFile, refusePickleOnlyDirectory, writeSafetensors, zerosInit, type HostTensor } from '@llm2clip/tensor';
import { dropoutMask } from './dropout.js';
import {
  LLAMA_LINEAR_MODULES,
  linearModuleName,
  type ForwardContext,
  type LinearAdapter,
  type LlamaLinearModule,
  type LlamaModel,
  type SaveOptions,
} from './llama-model.js';

async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** LoRA settings (PEFT's `LoraConfig` fields in camelCase). */
export const LoraOptionsSchema = z.object({
  /** Rank of the update `B·A`. */
  r: z.number().int().positive().default(16),
  /** Scale numerator: the update is multiplied by `alpha / r`. */
  alpha: z.number().positive().default(32),
  /** Dropout on the LoRA branch input while training. */
  dropout: z.number().min(0).lt(1).default(0.05),
  /** Linear modules that get an adapter. Default: all seven of a Llama layer. */
  targetModules: z.array(z.enum(LLAMA_LINEAR_MODULES)).min(1).default([...LLAMA_LINEAR_MODULES]),
  /** Rank-stabilised LoRA (PEFT `use_rslora`): scale `alpha / √r` instead of `alpha / r`. Default false. */
  rslora: z.boolean().optional(),
});

/** Resolved LoRA settings. */
export type LoraOptions = z.output<typeof LoraOptionsSchema>;
/** LoRA settings as a caller writes them (all optional). */
export type LoraOptionsInput = z.input<typeof LoraOptionsSchema>;

/** Facts written into `adapter_config.json` besides the LoRA settings. */
export interface AdapterMetadata {
  /** `base_model_name_or_path`: where the base model lives. Default `''`. */
  baseModelNameOrPath?: string;
  /** PEFT `task_type`. Default `CAUSAL_LM` (our names follow `LlamaForCausalLM`). */
  taskType?: string;
}

/** PEFT's prefix of adapter tensor names for a wrapped `LlamaForCausalLM`. */
export const PEFT_PREFIX = 'base_model.model.';

/** PEFT tensor name of the A (`down`) or B (`up`) matrix of a module. */
export function loraTensorName(moduleName: string, matrix: 'A' | 'B'): string {
  return `${PEFT_PREFIX}${moduleName}.lora_${matrix}.weight`;
}

interface LoraPair {
  a: tf.Variable;
  b: tf.Variable;
}

const AdapterConfigSchema = z.looseObject({
  peft_type: z.literal('LORA'),
  r: z.number().int().positive(),
  lora_alpha: z.number().positive(),
  lora_dropout: z.number().min(0).lt(1).default(0),
  target_modules: z.union([z.array(z.string()), z.string()]),
  bias: z.literal('none').default('none'),
  base_model_name_or_path: z.string().nullish(),
  task_type: z.string().nullish(),
  use_dora: z.literal(false).optional(),
  use_rslora: z.boolean().optional(),
  fan_in_fan_out: z.literal(false).optional(),
});

/**
 * LoRA (Hu et al. 2021) on the Linear layers of a {@link LlamaModel}, as PEFT computes it:
 * `y = W·x + b + (alpha/r)·B·A·dropout(x)`, A kaiming-uniform, B zero — so an attached fresh
 * adapter leaves the model's outputs unchanged. The adapter weights live in their own
 * {@link ParameterStore} under PEFT names
 * (`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`); attaching freezes the base.
 *
 * @example
 * ```ts
 * const lora = LoraAdapter.attach(model, { r: 16, alpha: 32, dropout: 0.05 }, rng);
 * // ... train lora.parameters ...
 * await lora.saveAdapter('runs/cc/adapter');
 * lora.merge(); // fold B·A into the base weights and detach
 * ```
 */
export class LoraAdapter implements LinearAdapter {
  /** The LoRA settings. */
  readonly options: LoraOptions;
  /** The A and B matrices under PEFT names. */
  readonly parameters: ParameterStore;
  /** The model the adapter belongs to. */
  readonly model: LlamaModel;
  /** `adapter_config.json` facts. */
  readonly metadata: Required<AdapterMetadata>;
  private readonly pairs = new Map<string, LoraPair>();
  private merged = false;
  private kept = false;

  private constructor(model: LlamaModel, options: LoraOptions, parameters: ParameterStore, metadata: AdapterMetadata) {
    this.model = model;
    this.options = options;
    this.parameters = parameters;
    this.metadata = { baseModelNameOrPath: metadata.baseModelNameOrPath ?? '', taskType: metadata.taskType ?? 'CAUSAL_LM' };
    for (let layer = 0; layer < model.config.num_hidden_layers; layer++) {
      for (const module of options.targetModules) {
        const name = linearModuleName(layer, module);
        this.pairs.set(name, { a: parameters.get(loraTensorName(name, 'A')), b: parameters.get(loraTensorName(name, 'B')) });
      }
    }
  }

  /** Expected PEFT tensor names and shapes for `model` and `options`. */
  static tensorShapes(model: LlamaModel, options: LoraOptions): Map<string, number[]> {
    const shapes = new Map<string, number[]>();
    for (let layer = 0; layer < model.config.num_hidden_layers; layer++) {
      for (const module of options.targetModules) {
        const name = linearModuleName(layer, module);
        const [out, inFeatures] = model.parameters.get(`${name}.weight`).shape;
        shapes.set(loraTensorName(name, 'A'), [options.r, inFeatures]);
        shapes.set(loraTensorName(name, 'B'), [out, options.r]);
      }
    }
    return shapes;
  }

  /**
   * Creates a fresh adapter (A from `rng`, kaiming-uniform as PEFT; B zeros), attaches it to
   * `model` and freezes the base weights.
   */
  static attach(model: LlamaModel, options: LoraOptionsInput, rng: Rng, metadata: AdapterMetadata = {}): LoraAdapter {
    const parsed = parseLoraOptions(options);
    const store = new ParameterStore();
    for (const [name, shape] of LoraAdapter.tensorShapes(model, parsed)) {
      const initial = name.includes('.lora_A.') ? kaimingUniformInit(rng, shape, shape[1]) : zerosInit(shape);
      store.add(name, initial);
    }
    const adapter = new LoraAdapter(model, parsed, store, metadata);
    adapter.activate();
    return adapter;
  }

  /**
   * Reads a PEFT adapter directory (`adapter_config.json` + `adapter_model.safetensors`), checks
   * every tensor name and shape against `model`, and attaches it (base frozen). Names of bare-model
   * adapters (`base_model.model.layers.…`, as LLM2Vec saves them) are accepted too. A directory
   * with only a pickle `adapter_model.bin` is `E_FORMAT` with the conversion command.
   */
  static async loadAdapter(model: LlamaModel, dir: string): Promise<LoraAdapter> {
    const weightsPath = join(dir, 'adapter_model.safetensors');
    // a pickle file given instead of the directory, or a PEFT directory saved with
    // safe_serialization=False (adapter_model.bin only): the conversion message, never unpickled
    refusePickleFile(dir, 'adapter_model.safetensors');
    if (!(await fileExists(weightsPath))) await refusePickleOnlyDirectory(dir, 'adapter_model.safetensors', ['adapter_model.bin']);
    const configPath = join(dir, 'adapter_config.json');
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(configPath, 'utf8'));
    } catch (cause) {
      throw new Llm2ClipError('E_IO', 'cannot read adapter_config.json', { path: configPath, cause });
    }
    const parsedConfig = AdapterConfigSchema.safeParse(raw);
    if (!parsedConfig.success) {
      const issue = parsedConfig.error.issues[0];
      throw new Llm2ClipError('E_CONFIG', `unsupported adapter config: ${issue.message}`, { path: configPath, field: issue.path.map(String).join('.') });
    }
    const config = parsedConfig.data;
    const targetModules = resolveTargetModules(config.target_modules, configPath);
    const options = parseLoraOptions({
      r: config.r,
      alpha: config.lora_alpha,
      dropout: config.lora_dropout,
      targetModules,
      ...(config.use_rslora === true ? { rslora: true } : {}),
    });
    const file = await readSafetensors(weightsPath);
    const tensors = new Map<string, HostTensor>();
    for (const [name, tensor] of file.tensors) {
      const canonical = name.startsWith(`${PEFT_PREFIX}layers.`) ? `${PEFT_PREFIX}model.${name.slice(PEFT_PREFIX.length)}` : name;
      tensors.set(canonical, tensor);
    }
    const expected = LoraAdapter.tensorShapes(model, options);
    const missing = [...expected.keys()].filter((n) => !tensors.has(n));
    const extra = [...tensors.keys()].filter((n) => !expected.has(n));
    if (missing.length > 0 || extra.length > 0) {
      const parts: string[] = [];
      if (missing.length > 0) parts.push(`missing: ${missing.join(', ')}`);
      if (extra.length > 0) parts.push(`unexpected: ${extra.join(', ')}`);
      throw new Llm2ClipError('E_MISMATCH', `adapter does not match the model; ${parts.join('; ')}`, { path: weightsPath, field: missing[0] ?? extra[0] });
    }
    const store = new ParameterStore();
    for (const [name, shape] of expected) {
      const host = tensors.get(name)!;
      if (host.shape.length !== shape.length || host.shape.some((d, i) => d !== shape[i])) {
        store.dispose();
        throw new Llm2ClipError('E_SHAPE', `expected shape [${shape}], file has [${host.shape}]`, { path: weightsPath, field: name });
      }
      const initial = tf.tensor(host.data as Float32Array, shape, 'float32');
      store.add(name, initial);
    }
    const adapter = new LoraAdapter(model, options, store, {
      baseModelNameOrPath: config.base_model_name_or_path ?? '',
      taskType: config.task_type ?? 'CAUSAL_LM',
    });
    adapter.activate();
    return adapter;
  }

  /** `alpha / r` (`alpha / √r` with rsLoRA). */
  get scale(): number {
    return this.options.rslora === true ? this.options.alpha / Math.sqrt(this.options.r) : this.options.alpha / this.options.r;
  }

  /** True once {@link merge} has folded the adapter into the base weights. */
  get isMerged(): boolean {
    return this.merged;
  }

  /** Attaches to the model and freezes its base weights. */
  activate(): void {
    if (this.merged) throw new Llm2ClipError('E_STATE', 'a merged adapter cannot be attached again');
    this.model.setTrainable(false);
    this.model.attachAdapter(this);
  }

  /** Detaches from the model (the base stays frozen). */
  deactivate(): void {
    if (this.model.adapter === this) this.model.detachAdapter();
  }

  adapt(moduleName: string, input: tf.Tensor, output: tf.Tensor, context: ForwardContext): tf.Tensor {
    const pair = this.pairs.get(moduleName);
    if (pair === undefined) return output;
    return tf.tidy(() => {
      let x = input;
      if (context.training && this.options.dropout > 0) {
        if (context.rng === undefined) throw new Llm2ClipError('E_STATE', 'training with LoRA dropout needs an rng', { field: 'rng' });
        x = tf.mul(input, dropoutMask(context.rng, input.shape, this.options.dropout));
      }
      return tf.add(output, tf.mul(linear(linear(x, pair.a), pair.b), this.scale));
    });
  }

  /**
   * Writes `adapter_config.json` and `adapter_model.safetensors` into `dir` in PEFT layout, each
   * file atomically.
   */
  async saveAdapter(dir: string): Promise<void> {
    await writeSafetensors(join(dir, 'adapter_model.safetensors'), this.parameters.toHost(), { format: 'pt' });
    await writeJsonAtomic(join(dir, 'adapter_config.json'), this.adapterConfig());
  }

  /** The `adapter_config.json` object PEFT reads. */
  adapterConfig(): Record<string, unknown> {
    return {
      peft_type: 'LORA',
      task_type: this.metadata.taskType,
      base_model_name_or_path: this.metadata.baseModelNameOrPath,
      revision: null,
      r: this.options.r,
      lora_alpha: this.options.alpha,
      lora_dropout: this.options.dropout,
      target_modules: [...this.options.targetModules],
      bias: 'none',
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: true,
      modules_to_save: null,
      layers_to_transform: null,
      layers_pattern: null,
      rank_pattern: {},
      alpha_pattern: {},
      use_rslora: this.options.rslora === true,
      use_dora: false,
    };
  }

  /**
   * Folds `(alpha/r)·B·A` into each target base weight and detaches the adapter; the model then
   * computes the same outputs without it. The adapter weights are freed unless `keepAdapter`
   * is set, which allows {@link unmerge} later.
   */
  merge(options: { keepAdapter?: boolean } = {}): void {
    if (this.merged) throw new Llm2ClipError('E_STATE', 'adapter already merged');
    for (const [name, pair] of this.pairs) {
      const weight = this.model.parameters.get(`${name}.weight`);
      tf.tidy(() => weight.assign(tf.add(weight, tf.mul(tf.matMul(pair.b, pair.a), this.scale))));
    }
    this.deactivate();
    this.merged = true;
    this.kept = options.keepAdapter === true;
    if (!this.kept) {
      this.parameters.dispose();
      this.pairs.clear();
    }
  }

  /**
   * Subtracts `(alpha/r)·B·A` from the base weights again and re-attaches the adapter (as PEFT's
   * `unmerge_adapter`). Needs a merge made with `keepAdapter: true`. Float rounding leaves the base
   * weights within ~1 ulp of their values before the merge.
   */
  unmerge(): void {
    if (!this.merged) throw new Llm2ClipError('E_STATE', 'adapter is not merged');
    if (!this.kept) throw new Llm2ClipError('E_STATE', 'adapter weights were freed by merge(); merge with { keepAdapter: true } to unmerge');
    for (const [name, pair] of this.pairs) {
      const weight = this.model.parameters.get(`${name}.weight`);
      tf.tidy(() => weight.assign(tf.sub(weight, tf.mul(tf.matMul(pair.b, pair.a), this.scale))));
    }
    this.merged = false;
    this.activate();
  }

  /**
   * Writes the model with this adapter folded in, in the Hugging Face layout (`config.json` +
   * `model.safetensors`, sharded above `maxShardBytes`), without changing the model: an unmerged
   * adapter is merged for the save and unmerged afterwards.
   */
  async saveMerged(dir: string, options: SaveOptions = {}): Promise<void> {
    if (this.merged) {
      await this.model.save(dir, options);
      return;
    }
    this.merge({ keepAdapter: true });
    try {
      await this.model.save(dir, options);
    } finally {
      this.unmerge();
    }
  }

  /** Hash of the adapter settings and weights. */
  fingerprint(): string {
    return fingerprint(this.options, this.parameters.fingerprint());
  }

  /** Detaches and frees the adapter weights. */
  dispose(): void {
    this.deactivate();
    this.parameters.dispose();
    this.pairs.clear();
  }
}

/**
 * PEFT's `target_modules`: a list of module names (or name suffixes), `all-linear`, or a regular
 * expression that must match the full module name (`model.layers.0.self_attn.q_proj`).
 */
function resolveTargetModules(target: string | string[], path: string): LlamaLinearModule[] {
  if (Array.isArray(target)) {
    const unknown = target.filter((m) => !LLAMA_LINEAR_MODULES.some((known) => m === known || m.endsWith(`.${known}`)));
    if (unknown.length > 0) throw new Llm2ClipError('E_CONFIG', `unsupported target modules ${unknown.join(', ')}`, { path, field: 'target_modules' });
    return LLAMA_LINEAR_MODULES.filter((known) => target.some((m) => m === known || m.endsWith(`.${known}`)));
  }
  if (target === 'all-linear') return [...LLAMA_LINEAR_MODULES];
  let pattern: RegExp;
  try {
    pattern = new RegExp(`^(?:${target})$`);
  } catch (cause) {
    throw new Llm2ClipError('E_CONFIG', 'target_modules is not a valid regular expression', { path, field: 'target_modules', cause });
  }
  const chosen = LLAMA_LINEAR_MODULES.filter((m) => pattern.test(linearModuleName(0, m)));
  if (chosen.length === 0) throw new Llm2ClipError('E_CONFIG', `target_modules ${JSON.stringify(target)} matches no Linear module`, { path, field: 'target_modules' });
  return chosen;
}

/** Validates LoRA options (defaults r 16, alpha 32, dropout 0.05, all seven modules). */
export function parseLoraOptions(options: LoraOptionsInput): LoraOptions {
  const parsed = LoraOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Llm2ClipError('E_CONFIG', `invalid LoRA options: ${issue.message}`, { field: issue.path.map(String).join('.') });
  }
  return parsed.data;
}

/** Reads a PEFT adapter from `dir` and attaches it to `model` (see {@link LoraAdapter.loadAdapter}). */
export function loadAdapter(model: LlamaModel, dir: string): Promise<LoraAdapter> {
  return LoraAdapter.loadAdapter(model, dir);
}

/** The short module names LoRA can target. */
export type LoraTargetModule = LlamaLinearModule;

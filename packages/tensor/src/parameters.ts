import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError, fingerprint } from '@llm2clip/core';
import type { HostTensor } from './safetensors.js';

// tfjs needs globally unique variable names; a counter keeps them unique and deterministic
let nextVariableId = 0;

/**
 * The named weights of a model, keyed by the names they have in the checkpoint format the model
 * follows (Hugging Face names such as `model.layers.0.self_attn.q_proj.weight`). Models own one
 * of these; optimizers, checkpoints and LoRA address weights by these names.
 */
export class ParameterStore {
  private readonly variables = new Map<string, tf.Variable>();

  /**
   * Adds a weight initialised from `initial`. The store takes ownership: `initial` is disposed
   * (the variable keeps a copy), and the variable is disposed with the store.
   */
  add(name: string, initial: tf.Tensor, trainable = true): tf.Variable {
    if (this.variables.has(name)) throw new Llm2ClipError('E_CONFIG', 'parameter registered twice', { field: name });
    return this.setOwned(name, initial, trainable);
  }

  /**
   * Replaces the weight called `name` (e.g. a fresh projection head of another shape), keeping its
   * position in the store. Ownership of `initial` passes to the store, as in {@link add}.
   */
  replace(name: string, initial: tf.Tensor, trainable?: boolean): tf.Variable {
    const old = this.variables.get(name);
    if (old === undefined) {
      initial.dispose();
      throw new Llm2ClipError('E_NOT_FOUND', 'no such parameter to replace', { field: name });
    }
    old.dispose();
    return this.setOwned(name, initial, trainable ?? old.trainable);
  }

  private setOwned(name: string, initial: tf.Tensor, trainable: boolean): tf.Variable {
    const variable = tf.variable(initial, trainable, `${name}#${nextVariableId++}`, 'float32');
    initial.dispose();
    this.variables.set(name, variable);
    return variable;
  }

  /** The weight called `name`; throws `E_NOT_FOUND` if absent. */
  get(name: string): tf.Variable {
    const variable = this.variables.get(name);
    if (variable === undefined) throw new Llm2ClipError('E_NOT_FOUND', 'no such parameter', { field: name });
    return variable;
  }

  /** True when a weight called `name` exists. */
  has(name: string): boolean {
    return this.variables.has(name);
  }

  /** Names in registration order. */
  names(): string[] {
    return [...this.variables.keys()];
  }

  /** `[name, variable]` pairs in registration order. */
  entries(): Array<[string, tf.Variable]> {
    return [...this.variables.entries()];
  }

  /** Names of trainable weights. */
  trainableNames(): string[] {
    return this.entries().filter(([, v]) => v.trainable).map(([n]) => n);
  }

  /** Marks the weights whose names satisfy `select` as trainable (and only those, if `exclusive`). */
  setTrainable(select: (name: string) => boolean, trainable = true, exclusive = false): void {
    for (const [name, variable] of this.variables) {
      if (select(name)) variable.trainable = trainable;
      else if (exclusive) variable.trainable = !trainable;
    }
  }

  /** Total number of scalar weights (optionally trainable ones only). */
  count(trainableOnly = false): number {
    let total = 0;
    for (const variable of this.variables.values()) if (!trainableOnly || variable.trainable) total += variable.size;
    return total;
  }

  /** Copies every weight to host memory (for saving). */
  toHost(select: (name: string) => boolean = () => true): Map<string, HostTensor> {
    const out = new Map<string, HostTensor>();
    for (const [name, variable] of this.variables) {
      if (!select(name)) continue;
      out.set(name, { shape: [...variable.shape], dtype: 'float32', data: variable.dataSync() as Float32Array });
    }
    return out;
  }

  /**
   * Assigns weights from host tensors. With `strict`, every store weight must be present;
   * extra names are reported by name in either case unless `ignoreExtra`.
   */
  loadHost(tensors: Map<string, HostTensor>, options: { strict?: boolean; ignoreExtra?: boolean; path?: string } = {}): void {
    const { strict = true, ignoreExtra = false, path } = options;
    const missing = this.names().filter((n) => !tensors.has(n));
    const extra = [...tensors.keys()].filter((n) => !this.variables.has(n));
    if ((strict && missing.length > 0) || (!ignoreExtra && extra.length > 0)) {
      const parts = [];
      if (strict && missing.length > 0) parts.push(`missing: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` (+${missing.length - 10})` : ''}`);
      if (!ignoreExtra && extra.length > 0) parts.push(`unexpected: ${extra.slice(0, 10).join(', ')}${extra.length > 10 ? ` (+${extra.length - 10})` : ''}`);
      throw new Llm2ClipError('E_MISMATCH', `weights do not match the model; ${parts.join('; ')}`, { path });
    }
    for (const [name, host] of tensors) {
      const variable = this.variables.get(name);
      if (variable === undefined) continue;
      if (host.shape.length !== variable.shape.length || host.shape.some((d, i) => d !== variable.shape[i])) {
        throw new Llm2ClipError('E_SHAPE', `expected shape [${variable.shape}], file has [${host.shape}]`, { path, field: name });
      }
      tf.tidy(() => variable.assign(tf.tensor(host.data instanceof Float32Array ? host.data : Float32Array.from(host.data), host.shape, 'float32')));
    }
  }

  /** A hash of all names, shapes and values: changes whenever any weight changes. */
  fingerprint(): string {
    const parts: unknown[] = [];
    for (const [name, variable] of this.variables) parts.push(name, variable.shape, variable.dataSync());
    return fingerprint(...parts);
  }

  /** Disposes every variable. */
  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
    this.variables.clear();
  }
}

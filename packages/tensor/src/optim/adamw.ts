import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';
import type { ParameterStore } from '../parameters.js';
import type { HostTensor } from '../safetensors.js';

/** Per-parameter settings: a learning-rate multiplier and the weight decay. */
export interface ParamGroupSettings {
  /** Multiplies the step's learning rate (layer-wise decay). Default 1. */
  lrScale?: number;
  /** Decoupled weight decay for this parameter. Default: the optimizer's. */
  weightDecay?: number;
}

/** Options of {@link AdamW}; defaults are PyTorch's. */
export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Default decoupled weight decay (PyTorch default 0.01). */
  weightDecay?: number;
  /** Settings per parameter name (e.g. no decay for biases and norms). */
  groupOf?: (name: string) => ParamGroupSettings;
}

/** Optimizer state as stored in checkpoints. */
export interface AdamWState {
  /** Number of steps taken. */
  step: number;
  /** `<name>.exp_avg` and `<name>.exp_avg_sq` moments. */
  tensors: Map<string, HostTensor>;
}

/**
 * AdamW (Loshchilov & Hutter) exactly as `torch.optim.AdamW` computes it: decoupled weight decay
 * `p ← p·(1 − lr·wd)`, then the bias-corrected Adam step. Moments live in tfjs variables.
 */
export class AdamW {
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private readonly groupOf: (name: string) => ParamGroupSettings;
  private readonly moments = new Map<string, { m: tf.Variable; v: tf.Variable }>();
  private stepCount = 0;

  constructor(options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.groupOf = options.groupOf ?? (() => ({}));
  }

  /** Steps taken so far. */
  get step(): number {
    return this.stepCount;
  }

  /** Applies one update with learning rate `lr` to every parameter that has a gradient. */
  apply(stores: ParameterStore | ParameterStore[], grads: Map<string, tf.Tensor>, lr: number): void {
    const list = Array.isArray(stores) ? stores : [stores];
    this.stepCount += 1;
    const t = this.stepCount;
    const correction1 = 1 - this.beta1 ** t;
    const correction2 = 1 - this.beta2 ** t;
    for (const [name, grad] of grads) {
      const store = list.find((s) => s.has(name));
      if (store === undefined) throw new Llm2ClipError('E_NOT_FOUND', 'gradient for an unknown parameter', { field: name });
      const param = store.get(name);
      const settings = this.groupOf(name);
      const stepLr = lr * (settings.lrScale ?? 1);
      const decay = settings.weightDecay ?? this.weightDecay;
      let state = this.moments.get(name);
      if (state === undefined) {
        state = { m: tf.variable(tf.zerosLike(param), false), v: tf.variable(tf.zerosLike(param), false) };
        this.moments.set(name, state);
      }
      const { m, v } = state;
      tf.tidy(() => {
        const newM = tf.add(tf.mul(m, this.beta1), tf.mul(grad, 1 - this.beta1));
        const newV = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(grad), 1 - this.beta2));
        m.assign(newM);
        v.assign(newV);
        const decayed = decay !== 0 ? tf.mul(param, 1 - stepLr * decay) : param;
        const denominator = tf.add(tf.div(tf.sqrt(newV), Math.sqrt(correction2)), this.eps);
        param.assign(tf.sub(decayed, tf.mul(tf.div(newM, denominator), stepLr / correction1)));
      });
    }
  }

  /** Copies the optimizer state to host memory. */
  exportState(): AdamWState {
    const tensors = new Map<string, HostTensor>();
    for (const [name, { m, v }] of this.moments) {
      tensors.set(`${name}.exp_avg`, { shape: [...m.shape], dtype: 'float32', data: m.dataSync() as Float32Array });
      tensors.set(`${name}.exp_avg_sq`, { shape: [...v.shape], dtype: 'float32', data: v.dataSync() as Float32Array });
    }
    return { step: this.stepCount, tensors };
  }

  /** Restores a state from {@link exportState}. */
  importState(state: AdamWState): void {
    this.disposeMoments();
    this.stepCount = state.step;
    for (const [key, host] of state.tensors) {
      const match = /^(.*)\.(exp_avg|exp_avg_sq)$/.exec(key);
      if (match === null) throw new Llm2ClipError('E_FORMAT', 'unexpected optimizer tensor', { field: key });
      const [, name, kind] = match;
      const entry = this.moments.get(name) ?? ({} as { m: tf.Variable; v: tf.Variable });
      const variable = tf.variable(tf.tensor(host.data, host.shape, 'float32'), false);
      if (kind === 'exp_avg') entry.m = variable;
      else entry.v = variable;
      this.moments.set(name, entry);
    }
    for (const [name, entry] of this.moments) {
      if (entry.m === undefined || entry.v === undefined) throw new Llm2ClipError('E_FORMAT', 'optimizer state lacks a moment', { field: name });
    }
  }

  private disposeMoments(): void {
    for (const { m, v } of this.moments.values()) {
      m?.dispose();
      v?.dispose();
    }
    this.moments.clear();
  }

  /** Frees the moment variables. */
  dispose(): void {
    this.disposeMoments();
  }
}

import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError } from '@llm2clip/core';
import type { ParameterStore } from '../parameters.js';

/** The loss value and the gradient of every trainable weight, keyed by parameter name. */
export interface GradientResult {
  /** The scalar loss (the caller disposes it). */
  loss: tf.Scalar;
  /** Gradients by parameter name (the caller disposes them). */
  grads: Map<string, tf.Tensor>;
}

/**
 * Runs `lossFn` and differentiates it with respect to the trainable weights of `stores`.
 * Intermediate tensors are freed; the loss and gradients belong to the caller.
 */
export function computeGradients(stores: ParameterStore | ParameterStore[], lossFn: () => tf.Scalar): GradientResult {
  const list = Array.isArray(stores) ? stores : [stores];
  const byVariableName = new Map<string, string>();
  const variables: tf.Variable[] = [];
  for (const store of list) {
    for (const [name, variable] of store.entries()) {
      if (!variable.trainable) continue;
      if (byVariableName.has(variable.name)) continue;
      byVariableName.set(variable.name, name);
      variables.push(variable);
    }
  }
  if (variables.length === 0) throw new Llm2ClipError('E_STATE', 'no trainable parameters to differentiate');
  const { value, grads } = tf.variableGrads(lossFn, variables);
  const named = new Map<string, tf.Tensor>();
  for (const [variableName, grad] of Object.entries(grads)) {
    const name = byVariableName.get(variableName);
    if (name === undefined) {
      grad.dispose();
      continue;
    }
    if (named.has(name)) throw new Llm2ClipError('E_CONFIG', 'two stores share a parameter name', { field: name });
    named.set(name, grad);
  }
  return { loss: value, grads: named };
}

/** Disposes every tensor of a gradient map. */
export function disposeGradients(grads: Map<string, tf.Tensor>): void {
  for (const grad of grads.values()) grad.dispose();
}

/** Adds `source` gradients into `target` (for gradient accumulation), disposing the replaced tensors. */
export function accumulateGradients(target: Map<string, tf.Tensor>, source: Map<string, tf.Tensor>): void {
  for (const [name, grad] of source) {
    const existing = target.get(name);
    if (existing === undefined) {
      target.set(name, tf.keep(grad.clone()));
    } else {
      target.set(name, tf.keep(tf.add(existing, grad)));
      existing.dispose();
    }
  }
}

import * as tf from '@tensorflow/tfjs-core';
import {
  ParameterStore,
  zerosInit,
  onesInit,
  linear,
  layerNorm,
  activation,
  splitHeads,
  mergeHeads,
  scaledDotProductAttention,
} from '@llm2clip/tensor';

/** The fields of a CLIP tower config that shape its transformer encoder. */
export interface ClipEncoderShape {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  hidden_act: 'quick_gelu' | 'gelu';
  layer_norm_eps: number;
  initializer_factor: number;
}

/** Draws a weight of `shape` with standard deviation `std` (a seeded normal, or zeros for loading). */
export type WeightInit = (shape: number[], std: number) => tf.Tensor;

/** Registers a layer norm's `weight` (ones) and `bias` (zeros) under `prefix`. */
export function addLayerNorm(store: ParameterStore, prefix: string, width: number): void {
  store.add(`${prefix}.weight`, onesInit([width]));
  store.add(`${prefix}.bias`, zerosInit([width]));
}

/** Applies the layer norm registered under `prefix` (caller owns the result). */
export function applyLayerNorm(store: ParameterStore, prefix: string, x: tf.Tensor, eps: number): tf.Tensor {
  return layerNorm(x, store.get(`${prefix}.weight`), store.get(`${prefix}.bias`), eps);
}

/**
 * Registers the weights of a CLIP transformer encoder (`<prefix>.layers.N.…`, Hugging Face names),
 * initialised as `CLIPPreTrainedModel._init_weights` does.
 */
export function addEncoderParameters(store: ParameterStore, prefix: string, config: ClipEncoderShape, init: WeightInit): void {
  const hidden = config.hidden_size;
  const factor = config.initializer_factor;
  const inProjStd = hidden ** -0.5 * (2 * config.num_hidden_layers) ** -0.5 * factor;
  const outProjStd = hidden ** -0.5 * factor;
  const fcStd = (2 * hidden) ** -0.5 * factor;
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const p = `${prefix}.layers.${layer}`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      store.add(`${p}.self_attn.${proj}.weight`, init([hidden, hidden], proj === 'out_proj' ? outProjStd : inProjStd));
      store.add(`${p}.self_attn.${proj}.bias`, zerosInit([hidden]));
    }
    addLayerNorm(store, `${p}.layer_norm1`, hidden);
    store.add(`${p}.mlp.fc1.weight`, init([config.intermediate_size, hidden], fcStd));
    store.add(`${p}.mlp.fc1.bias`, zerosInit([config.intermediate_size]));
    store.add(`${p}.mlp.fc2.weight`, init([hidden, config.intermediate_size], inProjStd));
    store.add(`${p}.mlp.fc2.bias`, zerosInit([hidden]));
    addLayerNorm(store, `${p}.layer_norm2`, hidden);
  }
}

/**
 * Runs the pre-LN CLIP encoder over `x` `[batch, seq, hidden]`: per layer
 * `x += out_proj(attn(LN1(x)))`, then `x += fc2(act(fc1(LN2(x))))`. `bias` is an additive
 * attention bias broadcasting to `[batch, heads, seq, seq]` (a causal mask for the text tower).
 * The residual stream stays 2-D `[batch·seq, hidden]` between blocks, to keep the op count small. Returns a new `[batch, seq, hidden]` tensor.
 */
export function encoderForward(store: ParameterStore, prefix: string, x: tf.Tensor3D, config: ClipEncoderShape, bias?: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, seq, hidden] = x.shape;
    const heads = config.num_attention_heads;
    const eps = config.layer_norm_eps;
    let h: tf.Tensor = tf.reshape(x, [batch * seq, hidden]);
    for (let layer = 0; layer < config.num_hidden_layers; layer++) {
      const p = `${prefix}.layers.${layer}`;
      const attnIn = applyLayerNorm(store, `${p}.layer_norm1`, h, eps);
      // three matmuls rather than one fused q|k|v matmul + split: the split's strided copies (and
      // the concat in its backward pass) cost more than the larger matmul saves
      const q = linear(attnIn, store.get(`${p}.self_attn.q_proj.weight`), store.get(`${p}.self_attn.q_proj.bias`));
      const k = linear(attnIn, store.get(`${p}.self_attn.k_proj.weight`), store.get(`${p}.self_attn.k_proj.bias`));
      const v = linear(attnIn, store.get(`${p}.self_attn.v_proj.weight`), store.get(`${p}.self_attn.v_proj.bias`));
      const toHeads = (t: tf.Tensor): tf.Tensor4D => splitHeads(tf.reshape(t, [batch, seq, hidden]), heads);
      const context = mergeHeads(scaledDotProductAttention(toHeads(q), toHeads(k), toHeads(v), bias));
      const attnOut = linear(tf.reshape(context, [batch * seq, hidden]), store.get(`${p}.self_attn.out_proj.weight`), store.get(`${p}.self_attn.out_proj.bias`));
      h = tf.add(h, attnOut);
      const mlpIn = applyLayerNorm(store, `${p}.layer_norm2`, h, eps);
      const inner = activation(config.hidden_act, linear(mlpIn, store.get(`${p}.mlp.fc1.weight`), store.get(`${p}.mlp.fc1.bias`)));
      h = tf.add(h, linear(inner, store.get(`${p}.mlp.fc2.weight`), store.get(`${p}.mlp.fc2.bias`)));
    }
    return tf.reshape(h, [batch, seq, hidden]) as tf.Tensor3D;
  });
}

import * as tf from '@tensorflow/tfjs-core';

/** Exact GELU, `0.5·x·(1 + erf(x/√2))`, as PyTorch's default `nn.GELU()`. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}

/** OpenAI CLIP's `quick_gelu`: `x·sigmoid(1.702·x)`. */
export function quickGelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))));
}

/** SiLU (swish), `x·sigmoid(x)`, used by Llama's SwiGLU MLP. */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/** Names of the activations used by the supported model configs. */
export type ActivationName = 'gelu' | 'quick_gelu' | 'silu' | 'gelu_new' | 'gelu_pytorch_tanh';

/** Tanh-approximated GELU (`gelu_new` / `gelu_pytorch_tanh` in Hugging Face configs). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/** Applies the activation called `name` (the `hidden_act` of a Hugging Face config). */
export function activation(name: ActivationName, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'gelu':
      return gelu(x);
    case 'quick_gelu':
      return quickGelu(x);
    case 'silu':
      return silu(x);
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return geluTanh(x);
  }
}

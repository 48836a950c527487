import * as tf from '@tensorflow/tfjs-core';

/**
 * A stride-`p` `Conv2d` with a `[hidden, channels, p, p]` kernel (ViT patch embedding) as one
 * matmul: `[batch, channels, g·p, g·p]` pixels → `[batch, g², hidden]` in row-major patch order,
 * plus `bias` when given. The caller owns the result.
 */
export function patchEmbed(pixels: tf.Tensor4D, kernel: tf.Tensor, patch: number, bias?: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, channels, height] = pixels.shape;
    const hidden = kernel.shape[0];
    const grid = height / patch;
    const patches = grid * grid;
    // cut [B,C,g·p,g·p] into [B·N, C·p·p] rows ordered (c, ph, pw) like the flattened conv kernel,
    // using only rank-4 transposes (which every backend has)
    let x: tf.Tensor = tf.reshape(pixels, [batch * channels * grid, patch, grid, patch]);
    x = tf.transpose(x, [0, 2, 1, 3]);
    x = tf.reshape(x, [batch, channels, patches, patch * patch]);
    x = tf.transpose(x, [0, 2, 1, 3]);
    x = tf.reshape(x, [batch * patches, channels * patch * patch]);
    let out: tf.Tensor = tf.matMul(x as tf.Tensor2D, tf.reshape(kernel, [hidden, channels * patch * patch]) as tf.Tensor2D, false, true);
    if (bias !== undefined) out = tf.add(out, bias);
    return tf.reshape(out, [batch, patches, hidden]) as tf.Tensor3D;
  });
}

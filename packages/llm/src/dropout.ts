import * as tf from '@tensorflow/tfjs-core';
import { Llm2ClipError, type Rng } from '@llm2clip/core';

/**
 * An inverted-dropout mask of `shape`: each entry is `1/(1−rate)` with probability `1−rate`, else 0
 * (`rate` rounded to a multiple of 2⁻¹⁶).
 * The seed is drawn from `rng`, the mask itself from a fast counter-based generator (mulberry32)
 * so that millions of entries per step cost milliseconds, not seconds; the same `rng` state gives
 * the same mask on every backend. The caller owns the returned tensor.
 */
export function dropoutMask(rng: Rng, shape: readonly number[], rate: number): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new Llm2ClipError('E_CONFIG', `dropout rate must be in [0, 1), got ${rate}`, { field: 'dropout' });
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  // each 32-bit draw gives two 16-bit uniforms; a drop when one falls below rate·2¹⁶ (the rate is
  // thus rounded to a multiple of 2⁻¹⁶, and the keep scale uses that rounded rate, so E[mask] = 1)
  const threshold = Math.round(rate * 65536);
  const keep = 65536 / (65536 - threshold);
  let state = rng.int(-2147483648, 2147483647) | 0;
  for (let i = 0; i < size; i += 2) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    const draw = (t ^ (t >>> 14)) >>> 0;
    values[i] = (draw & 0xffff) >= threshold ? keep : 0;
    if (i + 1 < size) values[i + 1] = draw >>> 16 >= threshold ? keep : 0;
  }
  return tf.tensor(values, [...shape], 'float32');
}

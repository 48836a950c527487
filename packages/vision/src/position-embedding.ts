import { Llm2ClipError } from '@llm2clip/core';
import type { HostTensor } from '@llm2clip/tensor';
import { resizeBicubicFloat } from './bicubic.js';

/**
 * How learned positions are resized to another grid: `'open_clip'` is open_clip's
 * `resize_pos_embed` (bicubic with `antialias=True`, used when a checkpoint is loaded at another
 * image size); `'hf'` is Hugging Face's `interpolate_pos_encoding` (bicubic without antialias).
 * Both keep the class token's row and use `align_corners=False`.
 */
export type PositionInterpolation = 'open_clip' | 'hf';

/**
 * Resizes a `[1 + grid², hidden]` table of learned positions (class token first) to a
 * `newGrid × newGrid` patch grid, as open_clip's `resize_pos_embed` or transformers'
 * `interpolate_pos_encoding` do. Returns a new host tensor `[1 + newGrid², hidden]`.
 */
export function resizePositionEmbedding(table: HostTensor, newGrid: number, mode: PositionInterpolation = 'open_clip'): HostTensor {
  const [positions, hidden] = table.shape;
  const grid = Math.round(Math.sqrt(positions - 1));
  if (table.shape.length !== 2 || grid * grid + 1 !== positions) {
    throw new Llm2ClipError('E_SHAPE', `position table [${table.shape}] is not [1 + n², hidden]`, { field: 'position_embedding' });
  }
  if (newGrid === grid) return { shape: [positions, hidden], dtype: 'float32', data: Float32Array.from(table.data) };
  const data = table.data instanceof Float32Array ? table.data : Float32Array.from(table.data);
  // rows 1… are the grid in row-major (y, x) order with `hidden` channels: an HWC image
  const resized = resizeBicubicFloat({ width: grid, height: grid, channels: hidden, data: data.subarray(hidden) }, newGrid, newGrid, { antialias: mode === 'open_clip' });
  const out = new Float32Array((newGrid * newGrid + 1) * hidden);
  out.set(data.subarray(0, hidden));
  out.set(resized.data, hidden);
  return { shape: [newGrid * newGrid + 1, hidden], dtype: 'float32', data: out };
}

/**
 * `@llm2clip/vision/image-ops`: the preprocessing pieces on decoded 8-bit RGB buffers, without
 * TensorFlow.js — Pillow-exact bicubic resize, crops, the shortest-edge / center-crop /
 * RandomResizedCrop geometry of CLIPImageProcessor and torchvision, and PyTorch-exact bicubic
 * interpolation of float grids. For packages (like `@llm2clip/data`) that augment images
 * themselves and must match the results of `ImagePreprocessor` (main entry).
 *
 * @packageDocumentation
 */
export { resizeBicubicPil, cropRaw, type PilResizeImplementation } from './pil-resize.js';
export { resizeCropBicubicPil, type ResizeCropOptions } from './image-ops-resize-crop.js';
export { resizeBicubicFloat, pilBicubicFilter, pilTaps, pilFixedTaps, type PilFixedTaps, type FloatGrid, type BicubicFloatOptions } from './bicubic.js';
export {
  roundHalfEven,
  randomResizedCropBox,
  shortestEdgeSize,
  centerCropBoxOf,
  type CropBox,
  type CenterCropRounding,
  type RandomResizedCropOptions,
} from './image-geometry.js';

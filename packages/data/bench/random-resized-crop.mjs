// A worker-side transform for the decode bench: RandomResizedCrop to `size` with sharp, the crop box
// given per key in `options.boxes` (so PIL crops exactly the same boxes) or drawn from the sample seed.
// The CLIP train transform of @llm2clip/vision is the one to use in training; this keeps the bench
// free of a dependency on vision (data must not depend on vision).
import { Rng } from '@llm2clip/core';

/** torchvision's RandomResizedCrop.get_params: 10 tries of scale x log-uniform ratio, else a centre crop. */
export function randomResizedCropBox(width, height, rng, scale = [0.08, 1], ratio = [3 / 4, 4 / 3]) {
  const area = width * height;
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(Math.log(ratio[0]), Math.log(ratio[1])));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) return { left: rng.int(0, width - w), top: rng.int(0, height - h), width: w, height: h };
  }
  const side = Math.min(width, height);
  return { left: Math.floor((width - side) / 2), top: Math.floor((height - side) / 2), width: side, height: side };
}

export default async function randomResizedCrop({ bytes, key, seed, options, sharp }) {
  const size = options?.size ?? 224;
  let box = options?.boxes?.[key];
  if (box === undefined) {
    const { width, height } = await sharp(bytes).metadata();
    box = randomResizedCropBox(width, height, new Rng(seed), options?.scale, options?.ratio);
  }
  const { data, info } = await sharp(bytes)
    .extract(box)
    .resize(size, size, { fit: 'fill', kernel: 'cubic' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { kind: 'raw', width: info.width, height: info.height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * A 31-bit seed for the sample at `position` of epoch `epoch` of a run seeded with `seed`
 * (murmur3-style mixing). Per-sample randomness (caption choice, crop box) comes from it, so a run
 * resumed at any position draws exactly what an uninterrupted run would.
 */
export function sampleSeed(seed: number, epoch: number, position: number): number {
  let h = Math.imul(seed | 0, 0x9e3779b1) ^ 0x85ebca6b;
  for (const value of [epoch, Math.floor(position / 0x100000000), position >>> 0]) {
    h = Math.imul(h ^ (value | 0), 0xcc9e2d51);
    h = (h << 15) | (h >>> 17);
    h = Math.imul(h, 0x1b873593);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x7fffffff;
}

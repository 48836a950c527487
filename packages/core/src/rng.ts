import { xoroshiro128plus, unsafeUniformIntDistribution, type RandomGenerator } from 'pure-rand';
import { Llm2ClipError } from './errors.js';

/** Serialisable state of an {@link Rng}, stored in checkpoints. */
export interface RngState {
  algorithm: 'xoroshiro128plus';
  state: number[];
}

/**
 * A seeded random generator (xoroshiro128+ from `pure-rand`) with a state that can be saved and
 * restored, so a resumed run draws the same numbers an uninterrupted one would.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * const order = rng.permutation(10);
 * const saved = rng.getState();
 * ```
 */
export class Rng {
  private generator: RandomGenerator;
  private spareNormal: number | undefined;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Llm2ClipError('E_CONFIG', `seed must be a finite number, got ${seed}`);
    this.generator = xoroshiro128plus(seed | 0);
  }

  /** A generator restored from {@link getState}. */
  static fromState(state: RngState): Rng {
    if (state?.algorithm !== 'xoroshiro128plus' || !Array.isArray(state.state)) {
      throw new Llm2ClipError('E_FORMAT', 'unknown RNG state', { field: 'rng' });
    }
    const rng = new Rng(0);
    rng.generator = xoroshiro128plus.fromState(state.state);
    return rng;
  }

  /** The current state; `Rng.fromState(state)` continues the same sequence. */
  getState(): RngState {
    // a cached Box-Muller spare would be lost on restore, so drop it to keep restore exact
    this.spareNormal = undefined;
    return { algorithm: 'xoroshiro128plus', state: [...this.generator.getState()] };
  }

  /** An independent generator derived from this one and `label` (for sub-tasks). */
  fork(label: number): Rng {
    return new Rng((this.int(0, 0x7fffffff) ^ Math.imul(label + 1, 0x9e3779b1)) | 0);
  }

  /** Uniform integer in `[min, max]` (both inclusive). */
  int(min: number, max: number): number {
    return unsafeUniformIntDistribution(min, max, this.generator);
  }

  /** Uniform float in `[0, 1)` with 53 random bits. */
  float(): number {
    const high = unsafeUniformIntDistribution(0, (1 << 26) - 1, this.generator);
    const low = unsafeUniformIntDistribution(0, (1 << 27) - 1, this.generator);
    return (high * 134217728 + low) / 9007199254740992;
  }

  /** Uniform float in `[min, max)`. */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.float();
  }

  /** Standard normal sample (Box-Muller). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const value = this.spareNormal;
      this.spareNormal = undefined;
      return value;
    }
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }

  /** True with probability `p`. */
  bernoulli(p: number): boolean {
    return this.float() < p;
  }

  /** One element of `items`, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Llm2ClipError('E_CONFIG', 'cannot pick from an empty list');
    return items[this.int(0, items.length - 1)];
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** A random permutation of `0 … n-1`. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** `n` floats drawn from N(0, std²). */
  normalArray(n: number, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal() * std;
    return out;
  }
}

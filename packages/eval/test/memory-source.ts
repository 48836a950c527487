// An in-memory SampleSource (file order without a seed, seeded shuffle with one, round-robin
// shards), standing in for the readers of @llm2clip/data in adapter tests.
import { Rng, type Sample, type SampleIterationOptions, type SampleSource } from '@llm2clip/core';

export class MemorySource implements SampleSource {
  /** Passes started over the samples. */
  passes = 0;

  constructor(
    readonly name: string,
    private readonly items: readonly Sample[],
  ) {}

  get size(): number {
    return this.items.length;
  }

  async *samples(options: SampleIterationOptions = {}): AsyncGenerator<Sample> {
    this.passes++;
    const order = options.seed === undefined ? this.items.map((_, i) => i) : new Rng(options.seed + (options.epoch ?? 0)).permutation(this.items.length);
    for (const index of order) yield this.items[index];
  }

  [Symbol.asyncIterator](): AsyncIterator<Sample> {
    return this.samples()[Symbol.asyncIterator]();
  }

  shard(index: number, count: number): SampleSource {
    return new MemorySource(`${this.name}[${index}/${count}]`, this.items.filter((_, i) => i % count === index));
  }
}

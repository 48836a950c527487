import { describe, expect, it } from 'vitest';
import { batchSamples } from '../src/index.js';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe('batchSamples', () => {
  it('groups items in order and keeps the short last batch unless dropLast', async () => {
    const items = [1, 2, 3, 4, 5, 6, 7];
    expect(await collect(batchSamples(items, 3))).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect(await collect(batchSamples(items, 3, { dropLast: true }))).toEqual([[1, 2, 3], [4, 5, 6]]);
    async function* stream() {
      yield* items;
    }
    expect(await collect(batchSamples(stream(), 7))).toEqual([items]);
    expect(await collect(batchSamples([], 2))).toEqual([]);
  });

  it('rejects a non-positive batch size', async () => {
    await expect(collect(batchSamples([1], 0))).rejects.toThrow(/batch size/);
  });
});

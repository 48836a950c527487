import { describe, expect, it } from 'vitest';
import { expandBraces } from '../src/index.js';

describe('expandBraces', () => {
  it('expands zero-padded numeric ranges', () => {
    expect(expandBraces('shard-{000000..000003}.tar')).toEqual([
      'shard-000000.tar',
      'shard-000001.tar',
      'shard-000002.tar',
      'shard-000003.tar',
    ]);
    expect(expandBraces('s{8..11}')).toEqual(['s8', 's9', 's10', 's11']);
    expect(expandBraces('s{3..1}')).toEqual(['s3', 's2', 's1']);
  });

  it('expands lists, several braces and nested braces in order', () => {
    expect(expandBraces('{train,test}/shard-{0..1}.tar')).toEqual(['train/shard-0.tar', 'train/shard-1.tar', 'test/shard-0.tar', 'test/shard-1.tar']);
    expect(expandBraces('a{b,c{1..2}}d')).toEqual(['abd', 'ac1d', 'ac2d']);
  });

  it('leaves plain text and single-item braces alone and rejects unbalanced braces', () => {
    expect(expandBraces('data/shard.tar')).toEqual(['data/shard.tar']);
    expect(expandBraces('x{y}z')).toEqual(['x{y}z']);
    expect(() => expandBraces('shard-{0..3.tar')).toThrow(/unbalanced/);
    expect(() => expandBraces('shard-0..3}.tar')).toThrow(/unbalanced/);
  });
});

import { describe, expect, it } from 'vitest';
import { DATA_SKIP_REASONS, SkipReport, describeSkip } from '../src/index.js';

describe('SkipReport', () => {
  it('counts per reason, logs each skip with key and file, keeps the first examples, and summarises', () => {
    const lines: string[] = [];
    const report = new SkipReport({ log: (line) => lines.push(line), keepExamples: 2 });
    report.add({ reason: 'corrupt-image', key: '000123', file: 'shard-0001.tar', detail: 'bad JPEG' });
    report.add({ reason: 'corrupt-image', key: '000124', file: 'shard-0001.tar' });
    report.add({ reason: 'malformed-line', key: 'line 17', file: 'train.csv' });
    expect(lines).toEqual([
      'skip corrupt-image: sample 000123 in shard-0001.tar (bad JPEG)',
      'skip corrupt-image: sample 000124 in shard-0001.tar',
      'skip malformed-line: line 17 in train.csv',
    ]);
    expect(report.count('corrupt-image')).toBe(2);
    expect(report.count()).toBe(3);
    const summary = report.summary();
    expect(Object.keys(summary.counts)).toEqual([...DATA_SKIP_REASONS]);
    expect(summary.counts['malformed-line']).toBe(1);
    expect(summary.examples).toHaveLength(2);
    expect(report.format()).toBe('skipped 3 samples: corrupt-image 2, malformed-line 1');
    report.clear();
    expect(report.format()).toBe('skipped 0 samples');
    expect(describeSkip({ reason: 'truncated-shard', file: 'a.tar' })).toBe('skip truncated-shard: in a.tar');
  });
});

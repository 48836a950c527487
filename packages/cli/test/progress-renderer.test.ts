import { describe, expect, it } from 'vitest';
import { createProgressRenderer } from '../src/progress-renderer.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { stream: { isTTY, write: (text: string) => (chunks.push(text), true) }, chunks };
}

describe('progress renderer', () => {
  it('prints plain lines no more often than the interval, with rate and ETA, and always the last one', () => {
    const { stream, chunks } = sink(false);
    let clock = 0;
    const render = createProgressRenderer({ stream, plainIntervalSeconds: 5, now: () => clock });
    render({ task: 'stage1', done: 0, total: 100, unit: 'step' });
    clock = 1000;
    render({ task: 'stage1', done: 10, total: 100, unit: 'step', values: { loss: 1.23456 } });
    clock = 6000;
    render({ task: 'stage1', done: 60, total: 100, unit: 'step', values: { loss: 0.5 } });
    clock = 10000;
    render({ task: 'stage1', done: 100, total: 100, unit: 'step' });
    expect(chunks).toHaveLength(3);
    expect(chunks[1]).toBe('[stage1] 60/100 steps, 10 step/s, ETA 0:04, loss=0.5000\n');
    expect(chunks[2]).toContain('done in 0:10');
  });

  it('redraws one line in place on a TTY and ends it when the task finishes', () => {
    const { stream, chunks } = sink(true);
    let clock = 0;
    const render = createProgressRenderer({ stream, now: () => clock });
    render({ task: 'embed', done: 0, total: 4, unit: 'caption' });
    clock = 2000;
    render({ task: 'embed', done: 2, total: 4, unit: 'caption' });
    clock = 4000;
    render({ task: 'embed', done: 4, total: 4, unit: 'caption' });
    expect(chunks[1].startsWith('\r\u001b[2K[embed] ')).toBe(true);
    expect(chunks[1]).toContain(' 50%');
    expect(chunks[1]).toContain('ETA 0:02');
    expect(chunks.at(-1)).toBe('\n');
  });
});

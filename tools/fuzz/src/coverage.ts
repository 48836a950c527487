import { Session } from 'node:inspector';

/** One V8 block-coverage range as the inspector reports it. */
interface CoverageRange {
  startOffset: number;
  endOffset: number;
  count: number;
}

interface ScriptCoverage {
  scriptId: string;
  url: string;
  functions: { functionName: string; ranges: CoverageRange[]; isBlockCoverage: boolean }[];
}

/** AFL-style hit-count bucket: 1, 2, 3, 4–7, 8–15, 16–31, 32–127, 128+. */
export function hitBucket(count: number): number {
  if (count <= 3) return count;
  if (count < 8) return 4;
  if (count < 16) return 5;
  if (count < 32) return 6;
  if (count < 128) return 7;
  return 8;
}

/**
 * V8 precise block coverage of this process through the inspector (`Profiler.startPreciseCoverage`
 * with `callCount` and `detailed`): {@link take} returns the features (script, block range, hit-count
 * bucket) executed since the previous call, which the fuzz loop uses as its coverage signal — the
 * same signal libFuzzer gets from compiler edge counters, at block instead of edge granularity.
 */
export class BlockCoverage {
  private readonly session = new Session();
  private readonly include: (url: string) => boolean;

  /** @param include Which script URLs count (default: every `file://` script). */
  constructor(include: (url: string) => boolean = (url) => url.startsWith('file://')) {
    this.include = include;
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true, allowTriggeredUpdates: false });
  }

  /** Sends an inspector command; an in-thread session answers synchronously. */
  private post<T = unknown>(method: string, params?: object): T {
    let result: T | undefined;
    let failure: Error | null = null;
    let answered = false;
    this.session.post(method, params, (error, value) => {
      failure = error;
      result = value as T;
      answered = true;
    });
    if (!answered) throw new Error(`inspector did not answer ${method} synchronously`);
    if (failure !== null) throw failure;
    return result as T;
  }

  /**
   * Feature keys executed since the last call (counts reset on every take). A key names the
   * script, the block's byte range and the bucket of its hit count.
   */
  take(): string[] {
    const { result } = this.post<{ result: ScriptCoverage[] }>('Profiler.takePreciseCoverage');
    const features: string[] = [];
    for (const script of result) {
      if (!this.include(script.url)) continue;
      for (const fn of script.functions) {
        for (const range of fn.ranges) {
          if (range.count > 0) features.push(`${script.url}:${range.startOffset}:${range.endOffset}:${hitBucket(range.count)}`);
        }
      }
    }
    return features;
  }

  /** Stops coverage collection and closes the inspector session. */
  close(): void {
    try {
      this.post('Profiler.stopPreciseCoverage');
      this.post('Profiler.disable');
    } finally {
      this.session.disconnect();
    }
  }
}

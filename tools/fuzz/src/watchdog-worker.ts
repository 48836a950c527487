import { writeFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { workerData } from 'node:worker_threads';

/** Data the fuzz loop shares with its watchdog thread. */
interface WatchdogData {
  /** [executions started, input length, running flag] */
  state: SharedArrayBuffer;
  /** The current input's bytes. */
  input: SharedArrayBuffer;
  crashesDir: string;
  target: string;
  timeoutMs: number;
  maxRssBytes: number;
}

// The watchdog runs on its own thread so that it still runs when the fuzzed code loops forever on
// the main thread: it saves the current input and kills the process (SIGKILL) on a hang or when
// the process grows past its memory limit.
const data = workerData as WatchdogData;
const state = new Int32Array(data.state);
const input = new Uint8Array(data.input);
let lastCount = -1;
let since = Date.now();

function die(kind: 'timeout' | 'oom', detail: string): never {
  const bytes = input.slice(0, Atomics.load(state, 1));
  const id = createHash('sha1').update(bytes).digest('hex').slice(0, 16);
  mkdirSync(data.crashesDir, { recursive: true });
  const file = join(data.crashesDir, `${kind}-${id}`);
  writeFileSync(file, bytes);
  writeFileSync(`${file}.txt`, `${data.target}: ${detail}\n`);
  process.stderr.write(`\nfuzz[${data.target}]: ${kind}: ${detail}; input saved to ${file}\n`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

setInterval(() => {
  const count = Atomics.load(state, 0);
  const running = Atomics.load(state, 2) === 1;
  const now = Date.now();
  if (count !== lastCount || !running) {
    lastCount = count;
    since = now;
  } else if (now - since > data.timeoutMs) {
    die('timeout', `one execution ran for more than ${data.timeoutMs} ms`);
  }
  const rss = process.memoryUsage.rss();
  if (rss > data.maxRssBytes) die('oom', `resident memory ${(rss / 2 ** 20).toFixed(0)} MiB exceeds the ${(data.maxRssBytes / 2 ** 20).toFixed(0)} MiB limit`);
}, 50);

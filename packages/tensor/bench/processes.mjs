// Runs one benchmark child process (a backend worker or the PyTorch reference), collects its
// `@@bench {json}` lines, watches its peak RSS through /proc (so a child that crashes or is
// killed still has one), and kills it when it runs past its time limit.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const PREFIX = '@@bench ';

/** Peak resident set size of a live process in MiB (Linux `VmHWM`), or undefined. */
function peakRssMiB(pid) {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? undefined : Number(match[1]) / 1024;
  } catch {
    return undefined;
  }
}

/**
 * Runs `command args` and resolves `{ records, stderrTail, code, signal, timedOut, killedAtMs,
 * seconds, peakRssMiB }`. `onRecord` sees each record as it arrives (for progress lines).
 */
export function runChild(command, args, { cwd, timeoutSeconds, onRecord = () => {} }) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const records = [];
    let stdoutRest = '';
    let stderr = '';
    let peak;
    let timedOut = false;
    const poll = setInterval(() => {
      const value = peakRssMiB(child.pid);
      if (value !== undefined) peak = Math.max(peak ?? 0, value);
    }, 250);
    let killedAtMs;
    const timer = setTimeout(() => {
      timedOut = true;
      killedAtMs = Date.now();
      child.kill('SIGKILL');
    }, timeoutSeconds * 1000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      const lines = (stdoutRest + chunk).split('\n');
      stdoutRest = lines.pop();
      for (const line of lines) {
        if (!line.startsWith(PREFIX)) continue;
        const record = JSON.parse(line.slice(PREFIX.length));
        records.push(record);
        if (record.maxRssMiB !== undefined) peak = Math.max(peak ?? 0, record.maxRssMiB);
        onRecord(record);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-20000);
    });
    const finish = (code, signal, spawnError) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({
        records,
        stderrTail: spawnError !== undefined ? spawnError.message : stderr,
        code,
        signal,
        timedOut,
        killedAtMs,
        seconds: (performance.now() - started) / 1000,
        peakRssMiB: peak,
      });
    };
    child.on('error', (error) => finish(null, null, error));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/** A one-line reason for a child that did not finish: the time limit, or its last error line. */
export function failureReason(result, timeoutSeconds) {
  if (result.timedOut) return `did not finish within ${timeoutSeconds} s (killed)`;
  const lines = result.stderrTail.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('at ') && !line.startsWith('Node.js v'));
  const error = lines.filter((line) => /Error|Aborted|error:/.test(line)).pop() ?? lines.pop() ?? `exit code ${result.code}`;
  const heapHint = /Aborted\(\)/.test(error) ? ' — an abort inside the wasm module; at this size most likely the 4 GiB wasm heap is exhausted' : '';
  return `${error.slice(0, 200)}${heapHint}`;
}

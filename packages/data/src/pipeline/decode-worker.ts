// Entry of a decode worker thread (see DecodePool): decodes jobs one message at a time.
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { isLlm2ClipError } from '@llm2clip/core';
import { loadWorkerTransform, runDecodeJob, transferables, type DecodeJob, type DecodeSettings } from './decode-job.js';

interface Message extends DecodeJob {
  id: number;
}

const settings = workerData as DecodeSettings & { sharpConcurrency?: number; jobsPerWorker?: number };
if (settings.sharpConcurrency !== undefined) sharp.concurrency(settings.sharpConcurrency);
// libvips' operation cache (like its concurrency, one per process) keeps decoded images of buffers
// that never come back; off, each decode costs a little less CPU and memory stays flat
sharp.cache(false);
const ready = settings.workerTransform !== undefined ? loadWorkerTransform(settings.workerTransform) : Promise.resolve(undefined);

// At most `jobsPerWorker` jobs run at once (one decoding in libvips while another transforms on
// this thread); the rest wait here in order. Unbounded, every queued job would start its sharp
// decode at once and the decodes of all workers would crowd the cores (and memory) together.
const limit = Math.max(1, settings.jobsPerWorker ?? 2);
const queue: Message[] = [];
let running = 0;

async function runOne(message: Message): Promise<void> {
  try {
    const value = await runDecodeJob(message, settings, await ready);
    parentPort?.postMessage({ id: message.id, ok: true, value }, transferables(value));
  } catch (error) {
    parentPort?.postMessage({ id: message.id, ok: false, code: isLlm2ClipError(error) ? error.code : undefined, message: (error as Error).message ?? String(error) });
  }
}

function pump(): void {
  while (running < limit && queue.length > 0) {
    const message = queue.shift() as Message;
    running++;
    void runOne(message).finally(() => {
      running--;
      pump();
    });
  }
}

parentPort?.on('message', (message: Message) => {
  queue.push(message);
  pump();
});

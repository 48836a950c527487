// Entry of a decode worker thread (see DecodePool): decodes jobs one message at a time.
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { isLlm2ClipError } from '@llm2clip/core';
import { loadWorkerTransform, runDecodeJob, transferables, type DecodeJob, type DecodeSettings } from './decode-job.js';

interface Message extends DecodeJob {
  id: number;
}

const settings = workerData as DecodeSettings & { sharpConcurrency?: number };
if (settings.sharpConcurrency !== undefined) sharp.concurrency(settings.sharpConcurrency);
const ready = settings.workerTransform !== undefined ? loadWorkerTransform(settings.workerTransform) : Promise.resolve(undefined);

parentPort?.on('message', (message: Message) => {
  void (async () => {
    try {
      const value = await runDecodeJob(message, settings, await ready);
      parentPort?.postMessage({ id: message.id, ok: true, value }, transferables(value));
    } catch (error) {
      parentPort?.postMessage({ id: message.id, ok: false, code: isLlm2ClipError(error) ? error.code : undefined, message: (error as Error).message ?? String(error) });
    }
  })();
});

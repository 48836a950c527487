import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { readMetricsJsonl } from '@llm2clip/core';
import { latestCheckpoint } from '@llm2clip/tensor';

/**
 * Metrics fields that must repeat exactly in a resumed run (timings and wall-clock fields are left
 * out): the loss, learning rate and gradient norm of every step are the earliest sign of a resume
 * that drifted.
 */
export const DETERMINISTIC_METRIC_FIELDS = ['loss', 'lr', 'gradNorm', 'grad_norm', 'logit_scale', 'epoch', 'passes', 'tokens', 'source'] as const;

/**
 * Name of a temporary file or directory of an interrupted atomic write (`.<name>.tmp-<pid>-<hex>`,
 * `@llm2clip/core`), directory replacement (`.<name>.old-<pid>-<hex>`) or checkpoint removal (`.<name>.del-<pid>-<hex>`, `@llm2clip/tensor`).
 */
export const TEMP_NAME = /^\..+\.(tmp|old|del)-\d+-[0-9a-f]+$/;

async function filesUnder(dir: string, temps = false): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (TEMP_NAME.test(entry.name)) {
        if (temps) out.push(relative(dir, path));
      } else if (entry.isDirectory()) await walk(path);
      else if (!temps) out.push(relative(dir, path));
    }
  };
  await walk(dir);
  return out.sort();
}

/** Temporary files and directories left under `dir` by interrupted atomic writes (relative paths). */
export async function findTempFiles(dir: string): Promise<string[]> {
  try {
    return await filesUnder(dir, true);
  } catch {
    return [];
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * Byte-for-byte comparison of two directory trees (temporary files of interrupted atomic writes
 * are left out: see {@link findTempFiles}); returns the differences found.
 */
export async function compareTrees(reference: string, candidate: string, label: string): Promise<string[]> {
  let want: string[];
  let got: string[];
  try {
    [want, got] = await Promise.all([filesUnder(reference), filesUnder(candidate)]);
  } catch (error) {
    return [`${label}: cannot list (${(error as Error).message})`];
  }
  const differences: string[] = [];
  const missing = want.filter((file) => !got.includes(file));
  const extra = got.filter((file) => !want.includes(file));
  if (missing.length > 0) differences.push(`${label}: missing ${missing.join(', ')}`);
  if (extra.length > 0) differences.push(`${label}: unexpected ${extra.join(', ')}`);
  for (const file of want.filter((f) => got.includes(f))) {
    const [a, b] = await Promise.all([readFile(join(reference, file)), readFile(join(candidate, file))]);
    if (!sameBytes(a, b)) differences.push(`${label}/${file}: bytes differ`);
  }
  return differences;
}

/**
 * Compares the newest checkpoint of two runs: `model.safetensors` and `optimizer.safetensors`
 * byte for byte (weights, AdamW moments), and `trainer.json` field by field except `createdAt`
 * (step, optimizer step, RNG state, data cursor, trainer facts).
 */
export async function compareFinalCheckpoints(referenceDir: string, candidateDir: string): Promise<string[]> {
  const [a, b] = await Promise.all([latestCheckpoint(referenceDir), latestCheckpoint(candidateDir)]);
  if (a === undefined) return ['reference run has no checkpoint'];
  if (b === undefined) return ['no checkpoint left by the resumed run'];
  const differences: string[] = [];
  if (relative(referenceDir, a) !== relative(candidateDir, b)) differences.push(`newest checkpoint is ${relative(candidateDir, b)}, reference ${relative(referenceDir, a)}`);
  for (const file of ['model.safetensors', 'optimizer.safetensors']) {
    const [x, y] = await Promise.all([readFile(join(a, file)).catch(() => undefined), readFile(join(b, file)).catch(() => undefined)]);
    if (x === undefined && y === undefined) continue;
    if (x === undefined || y === undefined || !sameBytes(x, y)) differences.push(`checkpoint ${file}: bytes differ`);
  }
  const facts = async (dir: string): Promise<Record<string, unknown>> => {
    const json = JSON.parse(await readFile(join(dir, 'trainer.json'), 'utf8')) as Record<string, unknown>;
    delete json.createdAt;
    return json;
  };
  const [fa, fb] = await Promise.all([facts(a), facts(b)]);
  for (const key of new Set([...Object.keys(fa), ...Object.keys(fb)])) {
    if (JSON.stringify(fa[key]) !== JSON.stringify(fb[key])) differences.push(`checkpoint trainer.json ${key}: ${JSON.stringify(fb[key])?.slice(0, 200)}, reference ${JSON.stringify(fa[key])?.slice(0, 200)}`);
  }
  return differences;
}

/**
 * Compares the training metrics of a killed-and-resumed run with the reference: every record of
 * `phase` (a step logged twice — before a kill and again after the resume — is checked both times)
 * must carry exactly the reference's {@link DETERMINISTIC_METRIC_FIELDS}, and every reference step
 * must be present.
 */
export async function compareMetrics(referencePath: string, candidatePath: string, phase: string): Promise<string[]> {
  const read = async (path: string) => readMetricsJsonl(await readFile(path, 'utf8')).filter((record) => record.phase === phase);
  let want: Awaited<ReturnType<typeof read>>;
  let got: Awaited<ReturnType<typeof read>>;
  try {
    [want, got] = await Promise.all([read(referencePath), read(candidatePath)]);
  } catch (error) {
    return [`metrics: ${(error as Error).message}`];
  }
  const byStep = new Map(want.map((record) => [record.step, record]));
  const differences: string[] = [];
  for (const record of got) {
    const expected = byStep.get(record.step);
    if (expected === undefined) {
      differences.push(`metrics: step ${String(record.step)} is not in the reference`);
      continue;
    }
    for (const field of DETERMINISTIC_METRIC_FIELDS) {
      if (JSON.stringify(record[field]) !== JSON.stringify(expected[field])) {
        differences.push(`metrics step ${String(record.step)} ${field}: ${JSON.stringify(record[field])}, reference ${JSON.stringify(expected[field])}`);
      }
    }
  }
  const covered = new Set(got.map((record) => record.step));
  const lost = [...byStep.keys()].filter((step) => !covered.has(step));
  if (lost.length > 0) differences.push(`metrics: steps ${lost.join(', ')} never logged`);
  return differences;
}

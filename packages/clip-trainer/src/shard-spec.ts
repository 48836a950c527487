import { Llm2ClipError } from '@llm2clip/core';

/** Which part of a split job this process is: part `index` (0-based) of `count`. */
export interface ShardSpec {
  /** 0-based part index. */
  index: number;
  /** Number of parts. */
  count: number;
}

/** How input shards are dealt to the parts of a split job. */
export type ShardAssignment = 'round-robin' | 'contiguous';

function integer(value: string | undefined, what: string, spec: string): number {
  const parsed = value !== undefined && /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(parsed)) throw new Llm2ClipError('E_CONFIG', `--shard ${spec}: ${what} is not a non-negative integer (${String(value)})`, { field: 'shard' });
  return parsed;
}

/**
 * Parses `--shard`: `i/n` (part `i` of `n`, 0-based), or `auto` / `auto/n`, which reads the part
 * index from the scheduler — `JOB_COMPLETION_INDEX` (Kubernetes Indexed Job),
 * `SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN` (SLURM array), else `LLM2CLIP_SHARD_INDEX` — and
 * the count from `/n`, else `SLURM_ARRAY_TASK_COUNT`, else `LLM2CLIP_SHARD_COUNT` (Kubernetes
 * sets no count variable: pass `auto/n` or set `LLM2CLIP_SHARD_COUNT` to the job's `completions`).
 * `E_CONFIG` names what is missing.
 */
export function resolveShardSpec(spec: string, env: Readonly<Record<string, string | undefined>> = process.env): ShardSpec {
  const match = /^(auto|\d+)(?:\/(\d+))?$/.exec(spec.trim());
  if (match === null) throw new Llm2ClipError('E_CONFIG', `--shard must be "i/n", "auto" or "auto/n", got "${spec}"`, { field: 'shard' });
  let index: number;
  let count: number;
  if (match[1] !== 'auto') {
    if (match[2] === undefined) throw new Llm2ClipError('E_CONFIG', `--shard ${spec}: give the part count as i/n`, { field: 'shard' });
    index = integer(match[1], 'the index', spec);
    count = integer(match[2], 'the count', spec);
  } else {
    if (env.JOB_COMPLETION_INDEX !== undefined) index = integer(env.JOB_COMPLETION_INDEX, 'JOB_COMPLETION_INDEX', spec);
    else if (env.SLURM_ARRAY_TASK_ID !== undefined) index = integer(env.SLURM_ARRAY_TASK_ID, 'SLURM_ARRAY_TASK_ID', spec) - integer(env.SLURM_ARRAY_TASK_MIN ?? '0', 'SLURM_ARRAY_TASK_MIN', spec);
    else if (env.LLM2CLIP_SHARD_INDEX !== undefined) index = integer(env.LLM2CLIP_SHARD_INDEX, 'LLM2CLIP_SHARD_INDEX', spec);
    else throw new Llm2ClipError('E_CONFIG', '--shard auto: none of JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID, LLM2CLIP_SHARD_INDEX is set', { field: 'shard' });
    if (match[2] !== undefined) count = integer(match[2], 'the count', spec);
    else if (env.SLURM_ARRAY_TASK_COUNT !== undefined) count = integer(env.SLURM_ARRAY_TASK_COUNT, 'SLURM_ARRAY_TASK_COUNT', spec);
    else if (env.LLM2CLIP_SHARD_COUNT !== undefined) count = integer(env.LLM2CLIP_SHARD_COUNT, 'LLM2CLIP_SHARD_COUNT', spec);
    else throw new Llm2ClipError('E_CONFIG', '--shard auto: the part count is unknown; use auto/n or set LLM2CLIP_SHARD_COUNT (SLURM sets SLURM_ARRAY_TASK_COUNT)', { field: 'shard' });
  }
  if (count < 1 || index >= count) throw new Llm2ClipError('E_CONFIG', `--shard ${spec}: need 0 <= index < count, got ${index}/${count}`, { field: 'shard' });
  return { index, count };
}

/**
 * The input shards (indices into a list of `total`) that part `spec` handles: `round-robin`
 * takes `index, index + count, …` (balances sizes that drift along the list); `contiguous` takes
 * one block, the first `total % count` parts one shard longer. Every shard goes to exactly one part.
 */
export function assignShards(total: number, spec: ShardSpec, assignment: ShardAssignment = 'round-robin'): number[] {
  const { index, count } = spec;
  if (assignment === 'round-robin') {
    const out: number[] = [];
    for (let i = index; i < total; i += count) out.push(i);
    return out;
  }
  const base = Math.floor(total / count);
  const extra = total % count;
  const start = index * base + Math.min(index, extra);
  const length = base + (index < extra ? 1 : 0);
  return Array.from({ length }, (_, i) => start + i);
}

import { join } from 'node:path';
import { writeJsonAtomic } from '@llm2clip/core';
import type { PoolingMode } from '@llm2clip/llm';

/** File name LLM2Vec reads next to an adapter or model (`LLM2Vec.from_pretrained`). */
export const LLM2VEC_CONFIG_FILE = 'llm2vec_config.json';
/** File name of this package's full description of the trained embedder. */
export const STAGE1_EMBEDDER_FILE = 'llm2clip_embedder.json';
/** `format` of {@link STAGE1_EMBEDDER_FILE}. */
export const STAGE1_EMBEDDER_FORMAT = 'llm2clip.stage1-embedder';
/** `version` of {@link STAGE1_EMBEDDER_FILE}. */
export const STAGE1_EMBEDDER_VERSION = 1;

// LLM2Vec's names of the pooling modes
const LLM2VEC_POOLING: Record<PoolingMode, string> = { mean: 'mean', weighted_mean: 'weighted_mean', eos: 'eos_token', bos: 'bos_token' };

/** How the trained embedder must be run to reproduce its training-time embeddings. */
export interface EmbedderFacts {
  /** Pooling (`mean` = over caption tokens only). */
  pooling: PoolingMode;
  /** Longest input in tokens used in training. */
  maxLength: number;
  /** Attention used in training (always true for LLM2Vec-style embedders). */
  bidirectional: boolean;
  /** Instruction put before queries, if one instruction was used for all. */
  instruction: string | null;
  /** Per-direction instructions of caption pairs, if used. */
  directionInstructions: { shortToLong: string; longToShort: string } | null;
  /** Where the base model came from. */
  baseModelNameOrPath: string;
  /** True when an MNTP adapter was merged into the base before this adapter was trained. */
  mntpMerged: boolean;
}

/**
 * Writes the embedder description into `dir` (atomically, each file):
 *
 * - `llm2vec_config.json` with exactly the keys `LLM2Vec.__init__` accepts (`pooling_mode`,
 *   `max_length`, `doc_max_length`, `skip_instruction`) — Python's `llm2vec` passes the file's keys
 *   as keyword arguments, so any other key (even `format`) would make it fail;
 * - `llm2clip_embedder.json` (`format` `llm2clip.stage1-embedder`, `version` 1) with everything:
 *   pooling, max length, bidirectional attention, padding side, instruction handling (instructions
 *   go before queries only and are excluded from pooling), base model, MNTP merge.
 */
export async function writeEmbedderConfig(dir: string, facts: EmbedderFacts): Promise<void> {
  await writeJsonAtomic(join(dir, LLM2VEC_CONFIG_FILE), {
    pooling_mode: LLM2VEC_POOLING[facts.pooling],
    max_length: facts.maxLength,
    doc_max_length: facts.maxLength,
    skip_instruction: true,
  });
  await writeJsonAtomic(join(dir, STAGE1_EMBEDDER_FILE), {
    format: STAGE1_EMBEDDER_FORMAT,
    version: STAGE1_EMBEDDER_VERSION,
    pooling: facts.pooling,
    poolOver: 'text tokens only (instruction tokens excluded, padding excluded)',
    maxLength: facts.maxLength,
    bidirectional: facts.bidirectional,
    paddingSide: 'left',
    instruction: facts.instruction,
    directionInstructions: facts.directionInstructions,
    instructionOn: 'queries',
    baseModelNameOrPath: facts.baseModelNameOrPath,
    mntpMerged: facts.mntpMerged,
  });
}

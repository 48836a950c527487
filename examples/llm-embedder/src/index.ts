/**
 * Example: `@llm2clip/llm` on its own, as a caption embedder. Loads a Hugging Face decoder
 * directory (Llama, Mistral, Qwen2; or a GGUF file, or a hub id) with an optional stage-1 PEFT
 * adapter, embeds captions, and finds each query's nearest captions by cosine similarity.
 *
 * @packageDocumentation
 */
import { LlmEmbedder, type PoolingMode } from '@llm2clip/llm';
import { initBackend } from '@llm2clip/tensor';

/** Options of {@link embedCaptions} / {@link nearestCaptions}. */
export interface CaptionEmbedderOptions {
  /** Model directory (Hugging Face layout), GGUF file or hub id. */
  model: string;
  /** Stage-1 PEFT LoRA adapter directory (merged into the model). */
  adapter?: string;
  /** Token pooling. Default `mean` (LLM2CLIP's). */
  pooling?: PoolingMode;
  /** Instruction put before every caption (excluded from pooling). */
  instruction?: string;
  /** Captions per forward pass. Default 32. */
  batchSize?: number;
}

/** Caption embeddings, L2-normalised, one row per caption. */
export interface CaptionEmbeddings {
  /** The embedder's name and weight fingerprint. */
  embedder: { name: string; fingerprint: string };
  dim: number;
  /** `captions.length` rows of `dim` values. */
  vectors: Float32Array[];
}

function normalise(row: Float32Array): Float32Array {
  let norm = 0;
  for (const v of row) norm += v * v;
  norm = Math.sqrt(norm) || 1;
  return row.map((v) => v / norm);
}

/** Embeds `captions` with the LLM (bidirectional attention, pooling as configured). */
export async function embedCaptions(captions: readonly string[], options: CaptionEmbedderOptions): Promise<CaptionEmbeddings> {
  await initBackend();
  const embedder = await LlmEmbedder.fromPretrained(options.model, {
    ...(options.adapter !== undefined ? { adapter: options.adapter } : {}),
    ...(options.pooling !== undefined ? { pooling: options.pooling } : {}),
    ...(options.instruction !== undefined ? { instruction: options.instruction } : {}),
  });
  try {
    const matrix = await embedder.embed([...captions], { batchSize: options.batchSize ?? 32 });
    const vectors: Float32Array[] = [];
    for (let r = 0; r < matrix.rows; r++) vectors.push(normalise(matrix.data.slice(r * matrix.dim, (r + 1) * matrix.dim)));
    const { name, fingerprint } = embedder.describe();
    return { embedder: { name, fingerprint }, dim: matrix.dim, vectors };
  } finally {
    embedder.dispose();
  }
}

/** One query's nearest gallery captions. */
export interface Neighbours {
  query: string;
  /** Best first: gallery index, caption and cosine similarity. */
  hits: { index: number; caption: string; score: number }[];
}

/** Cosine similarity of two L2-normalised vectors. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** For each query, the `k` most similar gallery captions (ties: lower index first). */
export async function nearestCaptions(queries: readonly string[], gallery: readonly string[], k: number, options: CaptionEmbedderOptions): Promise<Neighbours[]> {
  const { vectors } = await embedCaptions([...queries, ...gallery], options);
  const q = vectors.slice(0, queries.length);
  const g = vectors.slice(queries.length);
  return q.map((vector, i) => ({
    query: queries[i]!,
    hits: g
      .map((other, index) => ({ index, caption: gallery[index]!, score: cosine(vector, other) }))
      .sort((a, b) => b.score - a.score || a.index - b.index)
      .slice(0, k),
  }));
}

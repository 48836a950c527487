import { Llm2ClipError, embeddingMatrix, type EmbeddingMatrix, type EmbeddingStore, type ModelDescription, type TextEmbedder } from '@llm2clip/core';

/**
 * The frozen teacher replayed from an embedding cache: `embed(texts)` returns the cached row of
 * each caption of `samples` (looked up by caption text), so evaluation during stage 2 needs no LLM
 * in memory. It describes itself as the teacher that wrote the cache. A caption that is not in
 * the cache is an `E_MISMATCH` naming it.
 */
export class CachedTeacherEmbedder implements TextEmbedder {
  private readonly rows = new Map<string, Float32Array>();
  private readonly store: EmbeddingStore;

  /** Indexes the cached rows of every caption of `samples` (which must all be in `store`). */
  constructor(store: EmbeddingStore, samples: Iterable<{ key: string; captions: readonly string[] }>) {
    this.store = store;
    const dim = store.dim;
    for (const sample of samples) {
      const entry = store.get(sample.key);
      if (entry === undefined || entry.embeddings.rows !== sample.captions.length) {
        throw new Llm2ClipError('E_MISMATCH', entry === undefined ? 'sample key is not in the embedding cache' : `cache has ${entry.embeddings.rows} rows for ${sample.captions.length} captions`, { key: sample.key });
      }
      sample.captions.forEach((caption, i) => {
        if (!this.rows.has(caption)) this.rows.set(caption, entry.embeddings.data.subarray(i * dim, (i + 1) * dim));
      });
    }
  }

  /** The cache's dimension. */
  get dim(): number {
    return this.store.dim;
  }

  /** The cached rows of `texts`, in order. */
  async embed(texts: readonly string[]): Promise<EmbeddingMatrix> {
    const out = new Float32Array(texts.length * this.dim);
    texts.forEach((text, i) => {
      const row = this.rows.get(text);
      if (row === undefined) throw new Llm2ClipError('E_MISMATCH', `caption is not in the embedding cache: "${text.slice(0, 80)}"`, { field: 'texts' });
      out.set(row, i * this.dim);
    });
    return embeddingMatrix(texts.length, this.dim, out);
  }

  /** The description of the teacher that wrote the cache. */
  describe(): ModelDescription {
    return this.store.manifest.embedder;
  }
}

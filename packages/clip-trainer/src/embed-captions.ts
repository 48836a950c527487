import { basename } from 'node:path';
import { Llm2ClipError, embeddingMatrix, silentProgress, type EmbeddingManifest, type ProgressCallback, type Sample, type SampleSource, type TextEmbedder } from '@llm2clip/core';
import { EmbeddingCacheWriter } from './embedding-cache.js';

/** Options of {@link embedCaptions}. */
export interface EmbedCaptionsOptions {
  /** The samples whose captions are embedded (a source is read once, in file order). */
  source: SampleSource | AsyncIterable<Sample>;
  /** The frozen teacher, e.g. `@llm2clip/llm`'s `LlmEmbedder`. */
  embedder: TextEmbedder;
  /** Cache directory. */
  outDir: string;
  /** Samples per cache shard when samples carry no `meta.shard`. Default 1000. */
  samplesPerShard?: number;
  /** Captions per `embed` call (captions of several samples are packed together). Default 32. */
  batchSize?: number;
  /** Pooling recorded in the manifest. Default: the embedder's `details.pooling`, else `mean`. */
  pooling?: string;
  /** Progress in captions (task `embed`). */
  onProgress?: ProgressCallback;
}

function isSampleSource(source: SampleSource | AsyncIterable<Sample>): source is SampleSource {
  return typeof (source as SampleSource).samples === 'function';
}

/**
 * The name of the image shard a sample came from: `meta.shard`, else the webdataset reader's
 * `meta.__url__` without directory and `.tar` (so `train/shard-000003.tar` → `shard-000003`).
 */
function imageShardName(sample: Sample): string | undefined {
  const shard = sample.meta?.shard ?? sample.meta?.__url__;
  if (typeof shard !== 'string') return undefined;
  return basename(shard).replace(/\.tar$/, '');
}

/**
 * Stage 2's one pass of the frozen LLM: embeds every caption of every sample once and writes
 * the embedding cache (see {@link EmbeddingCacheWriter}). Samples that name their webdataset
 * shard (`meta.shard` or `meta.__url__`) get cache shards of the same name, so the cache lines up
 * with the image shards. Returns the manifest.
 */
export async function embedCaptions(options: EmbedCaptionsOptions): Promise<EmbeddingManifest> {
  const { embedder, outDir, onProgress = silentProgress } = options;
  const batchSize = Math.max(1, options.batchSize ?? 32);
  const description = embedder.describe();
  const pooling = options.pooling ?? (typeof description.details?.pooling === 'string' ? description.details.pooling : 'mean');
  const writer = await EmbeddingCacheWriter.create(outDir, { embedder: description, pooling, dim: embedder.dim, samplesPerShard: options.samplesPerShard });
  const iterable = isSampleSource(options.source) ? options.source.samples() : options.source;
  const started = performance.now();
  let done = 0;
  let pending: Sample[] = [];
  let pendingCaptions = 0;

  const embedPending = async (): Promise<void> => {
    if (pending.length === 0) return;
    const texts = pending.flatMap((s) => [...s.captions]);
    const matrix = await embedder.embed(texts, { batchSize });
    if (matrix.rows !== texts.length || matrix.dim !== embedder.dim) {
      throw new Llm2ClipError('E_SHAPE', `embedder returned ${matrix.rows}x${matrix.dim} for ${texts.length} captions of dim ${embedder.dim}`, { field: 'embed' });
    }
    let row = 0;
    for (const sample of pending) {
      const rows = sample.captions.length;
      const data = matrix.data.subarray(row * matrix.dim, (row + rows) * matrix.dim);
      await writer.put({ key: sample.key, embeddings: embeddingMatrix(rows, matrix.dim, data), captionKinds: sample.captionKinds }, imageShardName(sample));
      row += rows;
    }
    done += texts.length;
    const seconds = (performance.now() - started) / 1000;
    onProgress({ task: 'embed', done, unit: 'caption', values: { 'captions/s': Number((done / Math.max(seconds, 1e-9)).toFixed(1)) } });
    pending = [];
    pendingCaptions = 0;
  };

  for await (const sample of iterable) {
    if (sample.captions.length === 0) throw new Llm2ClipError('E_DATA', 'sample has no captions', { key: sample.key });
    pending.push(sample);
    pendingCaptions += sample.captions.length;
    if (pendingCaptions >= batchSize) await embedPending();
  }
  await embedPending();
  return writer.finish();
}

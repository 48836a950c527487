import { WebDatasetSource, type WebDatasetOptions } from '../webdataset-source.js';

/** The caption fields of LLM2CLIP's (DreamLIP-recaptioned) training shards. */
export const LLM2CLIP_CAPTION_KEYS = ['shortSV_captions', 'longSV_captions'] as const;

/** Options of {@link openLlm2ClipShards}. */
export interface Llm2ClipShardsOptions extends WebDatasetOptions {
  /** Also join each shard's `_text_embeddings.tar` sidecar (default true). */
  embeddings?: boolean;
}

/**
 * Opens training shards in LLM2CLIP's layout: `x.tar` holds `<key>.jpg` + `<key>.json` with the
 * DreamLIP captions `shortSV_captions` / `longSV_captions`; the sidecar `x_text_embeddings.tar` beside
 * it holds, per `__key__`, the LLM embedding of each caption as raw float32 (`<key>.shortSV_captions`,
 * `<key>.longSV_captions`, written by LLM2CLIP's `extract_embedding.py`). Samples get both captions
 * (kinds = the field names) and `meta.embeddings` (`shortsv_captions`, `longsv_captions` →
 * `Float32Array`, lowercased as webdataset keys them). Join mismatches are counted in the skip report.
 *
 * @example
 * ```ts
 * const report = new SkipReport();
 * const source = openLlm2ClipShards('cc3m/{00000..00331}.tar', { skipReport: report });
 * ```
 */
export function openLlm2ClipShards(shards: string | readonly string[], options: Llm2ClipShardsOptions = {}): WebDatasetSource {
  const { embeddings = true, ...rest } = options;
  return new WebDatasetSource(shards, {
    captionKeys: LLM2CLIP_CAPTION_KEYS,
    ...rest,
    ...(embeddings ? { sidecar: { fields: LLM2CLIP_CAPTION_KEYS, ...rest.sidecar } } : {}),
  });
}

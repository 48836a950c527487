import { Llm2ClipError, fingerprint, type ModelDescription } from '@llm2clip/core';
import type { ReportModel } from './report.js';

/** A model description, or anything that can describe itself (a `TextEmbedder`, an `ImageEmbedder`). */
export type Describable = ModelDescription | { describe(): ModelDescription };

/**
 * A {@link ReportModel} entry for `id` made of one or more parts, e.g. the text and image
 * embedders of a CLIP-style model. One part is used as is; several are combined into one
 * description: names joined with ` + `, a fingerprint over the parts' fingerprints, and the parts
 * under `details.parts`.
 *
 * @example
 * ```ts
 * const model = reportModel('llm2clip', textEmbedder, imageEmbedder);
 * ```
 * @throws Llm2ClipError `E_CONFIG` for an empty id or no parts.
 */
export function reportModel(id: string, ...parts: Describable[]): ReportModel {
  if (id === '') throw new Llm2ClipError('E_CONFIG', 'a report model needs a non-empty id', { field: 'id' });
  if (parts.length === 0) throw new Llm2ClipError('E_CONFIG', `report model '${id}' needs at least one part`, { field: 'parts' });
  const descriptions = parts.map((part) => ('describe' in part ? part.describe() : part));
  if (descriptions.length === 1) return { id, description: descriptions[0] };
  return {
    id,
    description: {
      name: descriptions.map((description) => description.name).join(' + '),
      fingerprint: fingerprint(...descriptions.map((description) => description.fingerprint)),
      details: { parts: descriptions },
    },
  };
}

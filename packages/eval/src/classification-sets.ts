import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Llm2ClipError, type Sample } from '@llm2clip/core';
import { hashImage, iterateSamples, reReadImages, setHash, type ClassificationEvalSet, type EvalSampleInput } from './eval-set.js';
import { CLASS_PLACEHOLDER } from './zero-shot.js';

/** The single prompt CLIP uses when a benchmark has no templates of its own. */
export const DEFAULT_TEMPLATES: readonly string[] = ['a photo of a {c}.'];

/**
 * The label of a sample as a source describes it: a class index (number, or a string of digits as
 * in a CLIP_benchmark `.cls` member) or a class name (string).
 */
export type SampleLabel = number | string;

/**
 * Default label reader: `meta.label`, `meta.cls`, `meta.class`, `meta.className`, `meta.synset`
 * (first present), else the key's first path segment (an ImageNet-style folder:
 * `n01440764/ILSVRC2012_val_00000293` → `n01440764`). `undefined` when none applies.
 */
export function defaultSampleLabel(sample: Sample): SampleLabel | undefined {
  const meta = sample.meta ?? {};
  for (const field of ['label', 'cls', 'class', 'className', 'synset']) {
    const value = meta[field];
    if (typeof value === 'number' || (typeof value === 'string' && value.trim() !== '')) return typeof value === 'string' ? value.trim() : value;
  }
  const slash = sample.key.indexOf('/');
  return slash > 0 ? sample.key.slice(0, slash) : undefined;
}

/** Options of {@link classificationSet}. */
export interface ClassificationSetOptions {
  /** Benchmark name used in reports. */
  name: string;
  /**
   * Class names in label order. Default: for string labels, the distinct labels sorted
   * (torchvision's `ImageFolder` order); for numeric labels, the names samples give in
   * `meta.className` (as `@llm2clip/data`'s image-folder source does) — otherwise required.
   */
  classNames?: readonly string[];
  /**
   * Folder or label id → readable class name (e.g. ImageNet synset `n01440764` → `tench`), used
   * when `classNames` is derived from string labels.
   */
  displayNames?: Readonly<Record<string, string>>;
  /** Zero-shot templates with `{c}`. Default {@link DEFAULT_TEMPLATES}. */
  templates?: readonly string[];
  /** Reads a sample's label. Default {@link defaultSampleLabel}. */
  labelOf?: (sample: Sample) => SampleLabel | undefined;
  /** Keep only samples for which this returns true. */
  filter?: (sample: Sample) => boolean;
}

/**
 * Reads `input` once and builds a {@link ClassificationEvalSet}. Numeric labels (or digit strings)
 * index `classNames`; other strings are class ids (folder names) mapped to indices in sorted
 * order. Samples without a label or rejected by `filter` are skipped and counted.
 *
 * @throws Llm2ClipError `E_DATA` for a label outside the classes or no labelled sample,
 *   `E_CONFIG` for a template without `{c}` or numeric labels without `classNames`.
 */
export async function classificationSet(input: EvalSampleInput, options: ClassificationSetOptions): Promise<ClassificationEvalSet> {
  const templates = options.templates ?? DEFAULT_TEMPLATES;
  if (templates.length === 0) throw new Llm2ClipError('E_CONFIG', 'a classification set needs at least one template', { field: 'templates' });
  for (const template of templates) {
    if (!template.includes(CLASS_PLACEHOLDER)) {
      throw new Llm2ClipError('E_CONFIG', `template ${JSON.stringify(template)} has no ${CLASS_PLACEHOLDER}`, { field: 'templates' });
    }
  }
  const labelOf = options.labelOf ?? defaultSampleLabel;
  const imageKeys: string[] = [];
  const rawLabels: SampleLabel[] = [];
  // Class names a source states beside numeric labels (an image-folder source's meta.className).
  const statedNames = new Map<number, string>();
  const hash = setHash('classification', options.name);
  let skipped = 0;
  for await (const sample of iterateSamples(input)) {
    if (options.filter !== undefined && !options.filter(sample)) {
      skipped++;
      continue;
    }
    const label = labelOf(sample);
    if (label === undefined) {
      skipped++;
      continue;
    }
    imageKeys.push(sample.key);
    rawLabels.push(label);
    const stated = sample.meta?.className;
    if (typeof stated === 'string' && (typeof label === 'number' || /^\d+$/.test(label))) statedNames.set(Number(label), stated);
    hash.update(`${sample.key}\u0000${String(label)}\u0000`);
    hashImage(hash, sample.image);
  }
  if (imageKeys.length === 0) throw new Llm2ClipError('E_DATA', `eval set '${options.name}': no labelled sample (${skipped} skipped)`, { field: 'label' });

  const numeric = (label: SampleLabel): boolean => typeof label === 'number' || /^\d+$/.test(label);
  let classNames: readonly string[];
  const labels = new Int32Array(rawLabels.length);
  if (rawLabels.every(numeric)) {
    classNames = options.classNames ?? namesFromSource(statedNames, options.name);
    rawLabels.forEach((label, i) => {
      const index = Number(label);
      if (!Number.isInteger(index) || index < 0 || index >= classNames.length) {
        throw new Llm2ClipError('E_DATA', `label ${String(label)} is not a class index in [0, ${classNames.length})`, { key: imageKeys[i], field: 'label' });
      }
      labels[i] = index;
    });
  } else {
    const ids = options.classNames ?? [...new Set(rawLabels.map(String))].sort();
    const index = new Map(ids.map((id, i) => [id, i]));
    rawLabels.forEach((label, i) => {
      const found = index.get(String(label));
      if (found === undefined) {
        throw new Llm2ClipError('E_DATA', `label '${String(label)}' is not one of the ${ids.length} class names`, { key: imageKeys[i], field: 'label' });
      }
      labels[i] = found;
    });
    classNames = ids.map((id) => options.displayNames?.[id] ?? id);
  }
  hash.update(JSON.stringify([classNames, templates]));
  return {
    task: 'classification',
    name: options.name,
    classNames: [...classNames],
    templates: [...templates],
    imageKeys,
    labels,
    fingerprint: hash.digest('hex').slice(0, 16),
    notes: [],
    skipped,
    images: reReadImages(input, imageKeys, options.name),
  };
}

/** Class names `0 … max` from the names samples stated; every index up to the largest must be named. */
function namesFromSource(stated: ReadonlyMap<number, string>, setName: string): string[] {
  const count = stated.size === 0 ? 0 : Math.max(...stated.keys()) + 1;
  const names: string[] = [];
  for (let label = 0; label < count; label++) {
    const name = stated.get(label);
    if (name === undefined) break;
    names.push(name);
  }
  if (names.length === 0 || names.length !== count) {
    throw new Llm2ClipError(
      'E_CONFIG',
      `eval set '${setName}': labels are class indices and the samples do not name every class (meta.className), so classNames must be given`,
      { field: 'classNames' },
    );
  }
  return names;
}

/**
 * An ImageNet-style image folder (`<root>/<class id>/<image>`): either a source whose samples carry
 * `meta.label` (index) and `meta.className` (as `@llm2clip/data`'s image-folder source writes
 * them), or one whose keys are `<class id>/<file stem>` — then classes are the folder names in
 * sorted order, shown through `displayNames` when given.
 */
export function imageFolderSet(
  input: EvalSampleInput,
  options: { name: string; templates?: readonly string[]; displayNames?: Readonly<Record<string, string>> },
): Promise<ClassificationEvalSet> {
  return classificationSet(input, options);
}

/** Class names and templates of a CLIP_benchmark webdataset (`classnames.txt`, `zeroshot_classification_templates.txt`). */
export interface ClipBenchmarkInfo {
  readonly classNames: readonly string[];
  readonly templates: readonly string[];
}

/**
 * Reads the class names (one per line) and zero-shot templates (one per line, `{c}` for the class)
 * at the root of a CLIP_benchmark webdataset directory (the layout of the `clip-benchmark/wds_*`
 * datasets: `classnames.txt`, `zeroshot_classification_templates.txt`, `test/0.tar`, …).
 * Templates default to {@link DEFAULT_TEMPLATES} when the file is absent.
 *
 * @throws Llm2ClipError `E_NOT_FOUND` without `classnames.txt`, `E_FORMAT` for an empty file or a
 *   template without `{c}`.
 */
export async function readClipBenchmarkInfo(dir: string): Promise<ClipBenchmarkInfo> {
  const lines = async (file: string): Promise<string[] | undefined> => {
    try {
      return (await readFile(join(dir, file), 'utf8')).split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Llm2ClipError('E_IO', 'cannot read the file', { path: join(dir, file), cause });
    }
  };
  const classNames = await lines('classnames.txt');
  if (classNames === undefined) throw new Llm2ClipError('E_NOT_FOUND', 'a CLIP_benchmark dataset needs classnames.txt', { path: join(dir, 'classnames.txt') });
  if (classNames.length === 0) throw new Llm2ClipError('E_FORMAT', 'classnames.txt lists no class', { path: join(dir, 'classnames.txt') });
  const templates = (await lines('zeroshot_classification_templates.txt')) ?? [...DEFAULT_TEMPLATES];
  templates.forEach((template, line) => {
    if (!template.includes(CLASS_PLACEHOLDER)) {
      throw new Llm2ClipError('E_FORMAT', `template on line ${line + 1} has no ${CLASS_PLACEHOLDER}`, { path: join(dir, 'zeroshot_classification_templates.txt') });
    }
  });
  return { classNames, templates };
}

/**
 * A CLIP_benchmark webdataset classification set: samples whose `meta.cls` (the `.cls` member) is
 * the class index into `info.classNames`.
 */
export function clipBenchmarkClassificationSet(input: EvalSampleInput, info: ClipBenchmarkInfo & { name: string }): Promise<ClassificationEvalSet> {
  return classificationSet(input, {
    name: info.name,
    classNames: info.classNames,
    templates: info.templates,
    labelOf: (sample) => {
      const value = sample.meta?.cls ?? sample.meta?.label;
      return typeof value === 'number' || typeof value === 'string' ? value : undefined;
    },
  });
}

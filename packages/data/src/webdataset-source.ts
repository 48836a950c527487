import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Llm2ClipError, Rng, type Sample, type SampleIterationOptions, type SampleSource } from '@llm2clip/core';
import { expandBraces } from './expand-braces.js';
import type { SkipReport } from './skip-report.js';
import { joinSidecar, type SidecarOptions } from './sources/sidecar-join.js';
import { DATA_LIMITS, checkFileSize } from './limits.js';
import { readMemberGroups, splitMemberName, type MemberGroup, type SampleMember } from './sources/tar-groups.js';

export { splitMemberName };

/** Why a webdataset sample was skipped. */
export type SkipReason = 'missing-image' | 'missing-captions' | 'bad-json' | 'corrupt-shard';

/** Every {@link SkipReason}. */
export const SKIP_REASONS: readonly SkipReason[] = ['missing-image', 'missing-captions', 'bad-json', 'corrupt-shard'];

/** Options of {@link WebDatasetSource}. */
export interface WebDatasetOptions {
  /** Description of the source (default: the pattern, or the first shard and the shard count). */
  name?: string;
  /** Shuffle buffer size used when iterating with a seed (default 1000; 0 or 1 disables it). */
  shuffleBuffer?: number;
  /** Member extensions taken as the image, in order of preference (default `png`, `jpg`, `jpeg`, `webp`). */
  imageExtensions?: readonly string[];
  /** Extension of the JSON member (default `json`). */
  jsonExtension?: string;
  /** Extension of the plain-text caption member (default `txt`; each non-empty line is a caption). */
  textExtension?: string;
  /** JSON field holding the captions, an array of strings or one string (default `captions`). */
  captionsField?: string;
  /** JSON field holding the caption kinds, aligned with the captions (default `caption_kinds`). */
  captionKindsField?: string;
  /** Number of samples, when known (e.g. from a manifest). */
  size?: number;
  /** Number of samples per shard, aligned with the shard list; gives `size` to shard subsets. */
  shardSizes?: readonly number[];
  /**
   * On a corrupt or truncated shard: throw `E_FORMAT` or count it and go on (default `throw`, or
   * `skip` when a `skipReport` is given). A missing shard always throws `E_NOT_FOUND`.
   */
  onShardError?: 'throw' | 'skip';
  /**
   * Where the captions come from, in order, all of them kept (replaces `captionsField`): a JSON
   * field name (`'shortSV_captions'`, a string or an array of strings), or a member extension with
   * a leading dot (`'.txt'`: each non-empty line is a caption). `captionKinds` are then the key
   * names. E.g. DreamLIP shards: `['shortSV_captions', 'longSV_captions']`.
   */
  captionKeys?: readonly string[];
  /** Extension of a class-label member (`cls` in CLIP_benchmark shards): its integer goes to `meta.label`. */
  labelExtension?: string;
  /** Class names by label; a sample with a label and no captions gets its class name as caption. */
  classnames?: readonly string[];
  /** Joins each shard with its LLM2CLIP embedding sidecar; embeddings go to `meta.embeddings`. */
  sidecar?: SidecarOptions;
  /** Counts and logs every skipped sample and shard with its key and file. */
  skipReport?: SkipReport;
}

interface RoundRobin {
  readonly index: number;
  readonly count: number;
}

type Member = SampleMember;

const DEFAULT_IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp'] as const;


function emptySkipCounts(): Record<SkipReason, number> {
  return { 'missing-image': 0, 'missing-captions': 0, 'bad-json': 0, 'corrupt-shard': 0 };
}

function checkCount(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0) throw new Llm2ClipError('E_CONFIG', `${field} must be a non-negative integer, got ${value}`, { field });
}

/**
 * A {@link SampleSource} over webdataset tar shards: each sample is the run of consecutive members
 * sharing a key (`000123.png`, `000123.json`, ...). The image is the first member whose extension
 * is an image extension (handed out encoded, `{ kind: 'encoded', bytes, format }`); captions come
 * from the JSON member's `captions` field (with `caption_kinds`), or else from the `.txt` member.
 * Any other JSON fields go into `meta`, with the shard path as `meta.__url__`.
 *
 * Without a seed, samples come in file order. With a seed, the shard order is shuffled and
 * samples pass through a shuffle buffer, deterministically for a given seed and epoch. Samples
 * missing an image or captions are skipped and counted in {@link skipped}, never thrown.
 *
 * @example
 * ```ts
 * const source = new WebDatasetSource('data/train/shard-{000000..000007}.tar', { shuffleBuffer: 500 });
 * for await (const sample of source.samples({ seed: 1, epoch: 0 })) console.log(sample.key);
 * console.log(source.skipped);
 * ```
 */
export class WebDatasetSource implements SampleSource {
  /** Description of the source. */
  readonly name: string;
  /** The shard files this source reads, in file order. */
  readonly shards: readonly string[];
  private readonly options: WebDatasetOptions;
  private roundRobin: readonly RoundRobin[] = [];
  private knownSize: number | undefined;
  private resampling = false;
  private skipCounts: Record<SkipReason, number> = emptySkipCounts();

  /**
   * @param shards A shard path, a brace pattern (`shard-{000000..000009}.tar`) or a list of paths.
   * @param options See {@link WebDatasetOptions}.
   */
  constructor(shards: string | readonly string[], options: WebDatasetOptions = {}) {
    this.shards = typeof shards === 'string' ? expandBraces(shards) : [...shards];
    if (this.shards.length === 0) throw new Llm2ClipError('E_CONFIG', 'a webdataset source needs at least one shard', { field: 'shards' });
    if (options.shuffleBuffer !== undefined) checkCount(options.shuffleBuffer, 'shuffleBuffer');
    if (options.size !== undefined) checkCount(options.size, 'size');
    if (options.shardSizes !== undefined) {
      if (options.shardSizes.length !== this.shards.length) {
        throw new Llm2ClipError('E_CONFIG', `shardSizes has ${options.shardSizes.length} entries for ${this.shards.length} shards`, { field: 'shardSizes' });
      }
      options.shardSizes.forEach((value) => checkCount(value, 'shardSizes'));
    }
    this.options = options;
    this.name =
      options.name ?? (typeof shards === 'string' ? shards : this.shards.length === 1 ? this.shards[0] : `${this.shards[0]} (+${this.shards.length - 1} shards)`);
    this.knownSize = options.size ?? options.shardSizes?.reduce((sum, n) => sum + n, 0);
  }

  /** Number of samples, when known without reading the data (from `size` or `shardSizes`). */
  get size(): number | undefined {
    return this.knownSize;
  }

  /**
   * A source over the shards listed in a webdataset shard index (the `wids` JSON format:
   * `{ "shardlist": [{ "url": "shard-000000.tar", "nsamples": 512 }, ...] }`), with relative
   * URLs resolved against the index file's directory. `size` comes from the sample counts.
   */
  static async fromShardIndex(indexPath: string, options: WebDatasetOptions = {}): Promise<WebDatasetSource> {
    let index: unknown;
    try {
      await checkFileSize(indexPath, DATA_LIMITS.maxTableBytes, 'shard index');
      index = JSON.parse(await readFile(indexPath, 'utf8'));
    } catch (cause) {
      if (cause instanceof Llm2ClipError) throw cause;
      const code = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_FORMAT';
      throw new Llm2ClipError(code, 'cannot read the shard index', { path: indexPath, cause });
    }
    const list = typeof index === 'object' && index !== null ? (index as { shardlist?: unknown }).shardlist : undefined;
    if (!Array.isArray(list) || list.length === 0) throw new Llm2ClipError('E_FORMAT', 'expected a non-empty "shardlist" array', { path: indexPath, field: 'shardlist' });
    const shards: string[] = [];
    const shardSizes: number[] = [];
    list.forEach((entry: { url?: unknown; nsamples?: unknown }, i) => {
      if (typeof entry?.url !== 'string' || entry.url === '' || typeof entry.nsamples !== 'number' || !Number.isSafeInteger(entry.nsamples) || entry.nsamples < 0) {
        throw new Llm2ClipError('E_FORMAT', `shard entry ${i} needs a non-empty string "url" and a non-negative integer "nsamples"`, { path: indexPath, field: `shardlist[${i}]` });
      }
      shards.push(isAbsolute(entry.url) ? entry.url : resolve(dirname(indexPath), entry.url));
      shardSizes.push(entry.nsamples);
    });
    return new WebDatasetSource(shards, { name: indexPath, ...options, shardSizes });
  }

  /** Samples skipped in the latest (or current) pass, per reason. */
  get skipped(): Readonly<Record<SkipReason, number>> {
    return { ...this.skipCounts };
  }

  /** Iterates once in file order. */
  [Symbol.asyncIterator](): AsyncIterator<Sample> {
    return this.samples()[Symbol.asyncIterator]();
  }

  /**
   * The `index`-th of `count` disjoint parts. With at least `count` shards, part `i` reads shards
   * `i, i + count, …`; with fewer, every part reads all shards and keeps every `count`-th sample
   * (round robin) — then all parts must iterate with the same seed and epoch.
   */
  shard(index: number, count: number): WebDatasetSource {
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
      throw new Llm2ClipError('E_CONFIG', `shard index must satisfy 0 <= index < count, got ${index} of ${count}`, { field: 'shard' });
    }
    const name = `${this.name} [part ${index + 1}/${count}]`;
    if (this.roundRobin.length === 0 && this.shards.length >= count) {
      const pick = <T>(items: readonly T[]): T[] => items.filter((_, i) => i % count === index);
      const byFiles = new WebDatasetSource(pick(this.shards), {
        ...this.options,
        name,
        size: undefined,
        shardSizes: this.options.shardSizes !== undefined ? pick(this.options.shardSizes) : undefined,
      });
      byFiles.resampling = this.resampling;
      return byFiles;
    }
    const part = new WebDatasetSource(this.shards, { ...this.options, name, size: undefined, shardSizes: undefined });
    part.resampling = this.resampling;
    const size = this.size !== undefined ? Math.floor((this.size + count - 1 - index) / count) : undefined;
    part.roundRobin = [...this.roundRobin, { index, count }];
    part.knownSize = size;
    return part;
  }

  /**
   * The same shards read with replacement: each seeded pass draws as many shards as there are,
   * uniformly with replacement (open_clip's `--dataset-resampled`), so endless training on huge
   * data needs no epoch bookkeeping. Without a seed a pass reads the shards in file order.
   */
  resampled(): WebDatasetSource {
    const copy = new WebDatasetSource(this.shards, { ...this.options, name: `${this.name} [resampled]`, size: this.knownSize, shardSizes: undefined });
    copy.roundRobin = this.roundRobin;
    copy.resampling = true;
    return copy;
  }

  /** Iterates the samples once; see the class comment for ordering. */
  async *samples(options: SampleIterationOptions = {}): AsyncGenerator<Sample> {
    this.skipCounts = emptySkipCounts();
    const rng = options.seed !== undefined ? new Rng(options.seed).fork(options.epoch ?? 0) : undefined;
    const shards =
      rng === undefined ? this.shards : this.resampling ? this.shards.map(() => this.shards[rng.int(0, this.shards.length - 1)]) : rng.shuffle([...this.shards]);
    const bufferSize = rng !== undefined ? (this.options.shuffleBuffer ?? 1000) : 0;
    const stream = this.selected(shards);
    if (rng === undefined || bufferSize <= 1) {
      yield* stream;
      return;
    }
    const buffer: Sample[] = [];
    for await (const sample of stream) {
      if (buffer.length < bufferSize) {
        buffer.push(sample);
        continue;
      }
      const slot = rng.int(0, bufferSize - 1);
      yield buffer[slot];
      buffer[slot] = sample;
    }
    yield* rng.shuffle(buffer);
  }

  private async *selected(shards: readonly string[]): AsyncGenerator<Sample> {
    const counters = this.roundRobin.map(() => 0);
    for await (const group of this.groups(shards)) {
      let mine = true;
      for (let stage = 0; stage < this.roundRobin.length && mine; stage++) {
        const { index, count } = this.roundRobin[stage];
        mine = counters[stage]++ % count === index;
      }
      if (!mine) continue;
      const sample = this.toSample(group.shard, group.key, group.members, (group as { embeddings?: Record<string, Float32Array> }).embeddings);
      if (sample !== undefined) yield sample;
    }
  }

  private async *groups(shards: readonly string[]): AsyncGenerator<MemberGroup> {
    const onShardError = this.options.onShardError ?? (this.options.skipReport !== undefined ? 'skip' : 'throw');
    let read = 0;
    let failed: Llm2ClipError | undefined;
    let failures = 0;
    for (const shard of shards) {
      const groups = readMemberGroups(shard, {
        onShardError,
        skipReport: this.options.skipReport,
        onSkippedShard: (error) => {
          this.skipCounts['corrupt-shard']++;
          failures++;
          failed ??= error;
        },
      });
      const joined = this.options.sidecar !== undefined ? joinSidecar(groups, shard, { ...this.options.sidecar, skipReport: this.options.skipReport, onShardError }) : groups;
      for await (const group of joined) {
        read++;
        yield group;
      }
    }
    // every shard broken and nothing read: the source as a whole is unreadable
    if (read === 0 && failed !== undefined && failures === shards.length) {
      throw new Llm2ClipError('E_FORMAT', `no shard of this source could be read: ${failed.message}`, { path: shards[0], cause: failed });
    }
  }

  private skip(reason: SkipReason | 'bad-label', shard: string, key: string, detail?: string): undefined {
    if (reason !== 'bad-label') this.skipCounts[reason]++;
    this.options.skipReport?.add({ reason, key, file: shard, ...(detail !== undefined ? { detail } : {}) });
    return undefined;
  }

  private toSample(shard: string, key: string, members: readonly Member[], embeddings?: Record<string, Float32Array>): Sample | undefined {
    const find = (extension: string): Member | undefined => members.find((m) => m.extension === extension);
    const imageExtensions = this.options.imageExtensions ?? DEFAULT_IMAGE_EXTENSIONS;
    let image: Member | undefined;
    for (const extension of imageExtensions) {
      image = find(extension);
      if (image !== undefined) break;
    }
    if (image === undefined) return this.skip('missing-image', shard, key, `members: ${members.map((m) => m.extension).join(', ')}`);
    const captionsField = this.options.captionsField ?? 'captions';
    const kindsField = this.options.captionKindsField ?? 'caption_kinds';
    let captions: string[] = [];
    let captionKinds: string[] | undefined;
    const meta: Record<string, unknown> = {};
    const json = find(this.options.jsonExtension ?? 'json');
    if (json !== undefined) {
      let record: unknown;
      try {
        record = JSON.parse(Buffer.from(json.data.buffer, json.data.byteOffset, json.data.byteLength).toString('utf8'));
      } catch (error) {
        return this.skip('bad-json', shard, key, (error as Error).message);
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record)) return this.skip('bad-json', shard, key, 'not a JSON object');
      const fields = record as Record<string, unknown>;
      if (this.options.captionKeys !== undefined) {
        const picked = this.pickCaptionKeys(fields, members);
        captions = picked.captions;
        captionKinds = picked.kinds;
      }
      const value = this.options.captionKeys !== undefined ? undefined : fields[captionsField];
      if (typeof value === 'string' && value.trim() !== '') captions = [value];
      else if (Array.isArray(value)) captions = value.filter((c): c is string => typeof c === 'string' && c.trim() !== '');
      const kinds = fields[kindsField];
      if (Array.isArray(value) && captions.length === value.length && Array.isArray(kinds) && kinds.length === captions.length && kinds.every((k) => typeof k === 'string')) {
        captionKinds = kinds as string[];
      }
      for (const [field, fieldValue] of Object.entries(fields)) {
        if (field !== captionsField && field !== kindsField) meta[field] = fieldValue;
      }
    } else if (this.options.captionKeys !== undefined) {
      const picked = this.pickCaptionKeys({}, members);
      captions = picked.captions;
      captionKinds = picked.kinds;
    }
    if (this.options.labelExtension !== undefined) {
      const label = find(this.options.labelExtension.toLowerCase());
      if (label !== undefined) {
        const text = Buffer.from(label.data.buffer, label.data.byteOffset, label.data.byteLength).toString('utf8').trim();
        const value = Number(text);
        const classnames = this.options.classnames;
        if (!/^\d+$/.test(text) || (classnames !== undefined && value >= classnames.length)) {
          return this.skip('bad-label', shard, key, `label ${JSON.stringify(text.slice(0, 20))}${classnames !== undefined ? ` of ${classnames.length} classes` : ''}`);
        }
        meta.label = value;
        if (classnames !== undefined) meta.className = classnames[value];
        if (captions.length === 0 && classnames !== undefined) {
          captions = [classnames[value]];
          captionKinds = ['class'];
        }
      }
    }
    if (captions.length === 0 && this.options.captionKeys === undefined) {
      const text = find(this.options.textExtension ?? 'txt');
      if (text !== undefined) {
        captions = Buffer.from(text.data.buffer, text.data.byteOffset, text.data.byteLength)
          .toString('utf8')
          .split(/\r?\n/)
          .map((line) => line.trim())
          .filter((line) => line !== '');
      }
    }
    if (captions.length === 0) return this.skip('missing-captions', shard, key);
    meta.__url__ = shard;
    if (embeddings !== undefined) meta.embeddings = embeddings;
    return {
      key,
      image: { kind: 'encoded', bytes: image.data, format: image.extension },
      captions,
      ...(captionKinds !== undefined ? { captionKinds } : {}),
      meta,
    };
  }

  private pickCaptionKeys(fields: Record<string, unknown>, members: readonly Member[]): { captions: string[]; kinds: string[] } {
    const captions: string[] = [];
    const kinds: string[] = [];
    for (const captionKey of this.options.captionKeys ?? []) {
      let values: string[] = [];
      if (captionKey.startsWith('.')) {
        const member = members.find((m) => m.extension === captionKey.slice(1).toLowerCase());
        if (member !== undefined) values = Buffer.from(member.data.buffer, member.data.byteOffset, member.data.byteLength).toString('utf8').split(/\r?\n/);
      } else {
        const value = fields[captionKey];
        if (typeof value === 'string') values = [value];
        else if (Array.isArray(value)) values = value.filter((c): c is string => typeof c === 'string');
      }
      for (const value of values) {
        if (value.trim() === '') continue;
        captions.push(value.trim());
        kinds.push(captionKey.startsWith('.') ? captionKey.slice(1) : captionKey);
      }
    }
    return { captions, kinds };
  }
}

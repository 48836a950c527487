import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Llm2ClipError } from '@llm2clip/core';
import { expandBraces } from '@llm2clip/data';

/**
 * The tar paths of a dataset given on the command line: brace patterns and/or paths
 * (`--shards 'data/train-{000000..000099}.tar'`), or the `url`s of a webdataset shard index
 * (`{ "shardlist": [{ "url", "nsamples" }] }`, relative URLs against the index's folder).
 */
export async function resolveShardPaths(shards: readonly string[] | undefined, shardIndex: string | undefined): Promise<string[]> {
  if ((shards === undefined || shards.length === 0) === (shardIndex === undefined)) {
    throw new Llm2ClipError('E_CONFIG', 'give either --shards or --shard-index', { field: 'shards' });
  }
  if (shardIndex === undefined) return (shards ?? []).flatMap((pattern) => expandBraces(pattern));
  let index: { shardlist?: Array<{ url?: unknown }> };
  try {
    index = JSON.parse(await readFile(shardIndex, 'utf8'));
  } catch (cause) {
    throw new Llm2ClipError('E_NOT_FOUND', 'cannot read the shard index', { path: shardIndex, cause });
  }
  if (!Array.isArray(index.shardlist) || index.shardlist.length === 0) throw new Llm2ClipError('E_FORMAT', 'expected a non-empty "shardlist"', { path: shardIndex, field: 'shardlist' });
  return index.shardlist.map((entry, i) => {
    if (typeof entry?.url !== 'string') throw new Llm2ClipError('E_FORMAT', `shard entry ${i} has no string "url"`, { path: shardIndex, field: `shardlist[${i}]` });
    return isAbsolute(entry.url) ? entry.url : resolve(dirname(shardIndex), entry.url);
  });
}

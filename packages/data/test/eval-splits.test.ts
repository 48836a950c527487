import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ImageFolderSource,
  KarpathySplitSource,
  SHAPES,
  SYNTHETIC_ZERO_SHOT_TEMPLATES,
  Urban1kSource,
  countWords,
  decodeImage,
  readClassnames,
  readTemplates,
  writeClassFolderSplit,
  writeFlickrLikeSplit,
  writeUrbanLikeSplit,
} from '../src/index.js';
import { collect } from './helpers/fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-evalsplits-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('synthetic eval splits', () => {
  it('writes a Flickr-like Karpathy split with 5 distinct captions per image, read back by KarpathySplitSource', async () => {
    const out = join(dir, 'flickr');
    const info = await writeFlickrLikeSplit(out, { seed: 1, testImages: 6, trainImages: 2, imageSize: 32 });
    expect(info).toMatchObject({ format: 'llm2clip.synthetic-eval', version: 1, kind: 'flickr-like', images: 8 });
    const test = await collect(new KarpathySplitSource(join(out, 'dataset_flickr30k.json'), { split: 'test', imageRoot: join(out, 'flickr30k-images') }));
    expect(test).toHaveLength(6);
    for (const sample of test) {
      expect(sample.captions).toHaveLength(5);
      expect(new Set(sample.captions).size).toBeGreaterThanOrEqual(4);
    }
    const image = await decodeImage(test[0].image);
    expect([image.width, image.height]).toEqual([32, 32]);
    const json = JSON.parse(await readFile(join(out, 'dataset_flickr30k.json'), 'utf8'));
    expect(json.dataset).toBe('flickr30k');
    expect(Object.keys(json.images[0]).sort()).toEqual(['filename', 'imgid', 'sentences', 'sentids', 'split']);
    // same seed, same captions
    const again = join(dir, 'flickr2');
    await writeFlickrLikeSplit(again, { seed: 1, testImages: 6, trainImages: 2, imageSize: 32 });
    expect(await readFile(join(again, 'dataset_flickr30k.json'), 'utf8')).toBe(await readFile(join(out, 'dataset_flickr30k.json'), 'utf8'));
  });

  it('writes an Urban-1k-like split: one long caption per image, 1:1', async () => {
    const out = join(dir, 'Urban1k');
    await writeUrbanLikeSplit(out, { seed: 2, images: 5 });
    expect((await readdir(join(out, 'image'))).length).toBe(5);
    const samples = await collect(new Urban1kSource(out));
    expect(samples).toHaveLength(5);
    for (const sample of samples) {
      expect(sample.captions).toHaveLength(1);
      expect(countWords(sample.captions[0])).toBeGreaterThan(60);
    }
    expect(new Set(samples.map((s) => s.captions[0])).size).toBe(5);
  });

  it('writes an ImageNet-style class-folder split with classnames and templates for zero-shot', async () => {
    const out = join(dir, 'classes');
    const info = await writeClassFolderSplit(out, { seed: 3, imagesPerClass: 2 });
    expect(info.images).toBe(2 * SHAPES.length);
    const classnames = await readClassnames(join(out, 'classnames.txt'));
    expect(classnames).toEqual([...SHAPES]);
    expect(await readTemplates(join(out, 'zeroshot_classification_templates.txt'))).toEqual(SYNTHETIC_ZERO_SHOT_TEMPLATES);
    const samples = await collect(new ImageFolderSource(join(out, 'val'), { classnames: join(out, 'classnames.txt') }));
    expect(samples).toHaveLength(2 * SHAPES.length);
    for (const sample of samples) expect(sample.key.split('/')[1]).toMatch(new RegExp(`^${sample.captions[0]}_`));
  });
});

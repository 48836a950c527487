import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLlm2ClipError } from '@llm2clip/core';
import {
  CocoCaptionsSource,
  CsvSource,
  DocciSource,
  ImageFolderSource,
  JsonlSource,
  KarpathySplitSource,
  ShareGpt4vSource,
  SkipReport,
  Urban1kSource,
  readTemplates,
} from '../src/index.js';
import { collect, imageBytes, keysOf } from './helpers/fixtures.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llm2clip-sources-'));
  await mkdir(join(dir, 'images'), { recursive: true });
  for (let i = 0; i < 4; i++) await writeFile(join(dir, 'images', `img${i}.jpg`), await imageBytes('jpg', i));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('CsvSource (open_clip --csv-img-key/--csv-caption-key/--csv-separator)', () => {
  it('reads tab-separated filepath/title rows with quoted fields, relative to the CSV', async () => {
    const csv = join(dir, 'train.tsv');
    await writeFile(csv, 'filepath\ttitle\textra\nimages/img0.jpg\ta red square\t1\nimages/img1.jpg\t"a caption with\ttab and ""quotes"""\t2\nimages/img0.jpg\tsecond row, same image\t3\n');
    const samples = await collect(new CsvSource(csv));
    expect(keysOf(samples)).toEqual(['images/img0', 'images/img1', 'images/img0#1']);
    expect(samples[1].captions).toEqual(['a caption with\ttab and "quotes"']);
    expect(samples[0].image).toMatchObject({ kind: 'encoded', format: 'jpg' });
  });

  it('takes other keys and separators, and skips malformed rows with their line', async () => {
    const csv = join(dir, 'train.csv');
    await writeFile(csv, 'url,caption\nimages/img2.jpg,two\nimages/img3.jpg,three,unexpected\nimages/img3.jpg,"broken\nimages/missing.jpg,gone\n');
    const report = new SkipReport();
    const samples = await collect(new CsvSource(csv, { separator: ',', imageKey: 'url', captionKey: 'caption', skipReport: report }));
    expect(keysOf(samples)).toEqual(['images/img2']);
    expect(report.count('malformed-line')).toBeGreaterThanOrEqual(1);
    expect(report.summary().examples[0]).toMatchObject({ reason: 'malformed-line', file: csv });
  });

  it('fails at once, naming the file, on a missing file or a header without the columns', async () => {
    const missing = await new CsvSource(join(dir, 'nope.csv')).open().catch((e: unknown) => e);
    expect(isLlm2ClipError(missing, 'E_NOT_FOUND')).toBe(true);
    expect((missing as Error).message).toContain('nope.csv');
    const csv = join(dir, 'wrong.tsv');
    await writeFile(csv, 'image\ttext\na.jpg\tb\n');
    const wrong = await new CsvSource(csv).open().catch((e: unknown) => e);
    expect(isLlm2ClipError(wrong, 'E_FORMAT')).toBe(true);
    expect((wrong as Error).message).toMatch(/filepath.*wrong\.tsv/s);
  });
});

describe('JsonlSource', () => {
  it('reads several caption fields, keeps other fields in meta, skips malformed lines', async () => {
    const path = join(dir, 'data.jsonl');
    await writeFile(path, ['{"image":"images/img0.jpg","short":"s0","long":["l0a","l0b"],"id":7}', '{not json', '[1,2]', '', '{"image":"images/img1.jpg","short":"s1"}'].join('\n'));
    const report = new SkipReport();
    const source = new JsonlSource(path, { captionKeys: ['short', 'long'], keyField: 'id', skipReport: report });
    const samples = await collect(source);
    expect(keysOf(samples)).toEqual(['7', 'images/img1']);
    expect(samples[0].captions).toEqual(['s0', 'l0a', 'l0b']);
    expect(samples[0].captionKinds).toEqual(['short', 'long', 'long']);
    expect(samples[0].meta).toMatchObject({ id: 7 });
    expect(report.count('malformed-line')).toBe(2);
    expect(report.summary().examples.map((e) => e.key)).toEqual(['line 2', 'line 3']);
  });
});

describe('CocoCaptionsSource', () => {
  it('groups the annotations of each image, keyed by image id', async () => {
    const path = join(dir, 'annotations', 'captions_val2017.json');
    await mkdir(join(dir, 'annotations'), { recursive: true });
    await writeFile(
      path,
      JSON.stringify({
        info: {},
        images: [
          { id: 139, file_name: 'img0.jpg', width: 24, height: 24 },
          { id: 285, file_name: 'img1.jpg', width: 24, height: 24 },
          { id: 999, file_name: 'img2.jpg' },
        ],
        annotations: [
          { image_id: 139, id: 1, caption: 'A woman stands in the dining area.' },
          { image_id: 285, id: 2, caption: 'A big brown bear.' },
          { image_id: 139, id: 3, caption: 'A room with chairs.' },
          { image_id: 12345, id: 4, caption: 'orphan' },
        ],
      }),
    );
    const report = new SkipReport();
    const source = new CocoCaptionsSource(path, { imageRoot: join(dir, 'images'), skipReport: report });
    const samples = await collect(source);
    expect(keysOf(samples)).toEqual(['139', '285']);
    expect(samples[0].captions).toEqual(['A woman stands in the dining area.', 'A room with chairs.']);
    expect(report.count('malformed-line')).toBe(1);
    expect(report.count('missing-captions')).toBe(1);
    const bad = join(dir, 'annotations', 'bad.json');
    await writeFile(bad, '{"images": []}');
    expect(isLlm2ClipError(await new CocoCaptionsSource(bad).open().catch((e: unknown) => e), 'E_FORMAT')).toBe(true);
  });
});

describe('KarpathySplitSource', () => {
  it('reads Flickr30k (filename only) and COCO (filepath + cocoid) split files, filtering by split', async () => {
    const flickr = join(dir, 'dataset_flickr30k.json');
    const sentence = (raw: string, imgid: number, sentid: number) => ({ tokens: raw.split(' '), raw, imgid, sentid });
    await writeFile(
      flickr,
      JSON.stringify({
        dataset: 'flickr30k',
        images: [
          { sentids: [0, 1], imgid: 0, sentences: [sentence('a dog runs', 0, 0), sentence('a brown dog', 0, 1)], split: 'train', filename: 'img0.jpg' },
          { sentids: [2], imgid: 1, sentences: [sentence('two people', 1, 2)], split: 'test', filename: 'img1.jpg' },
        ],
      }),
    );
    const test = await collect(new KarpathySplitSource(flickr, { split: 'test', imageRoot: join(dir, 'images') }));
    expect(keysOf(test)).toEqual(['1']);
    expect(test[0].captions).toEqual(['two people']);
    const coco = join(dir, 'dataset_coco.json');
    await mkdir(join(dir, 'val2014'), { recursive: true });
    await writeFile(join(dir, 'val2014', 'COCO_val2014_000000391895.jpg'), await imageBytes('jpg', 9));
    await writeFile(
      coco,
      JSON.stringify({
        dataset: 'coco',
        images: [{ filepath: 'val2014', sentids: [770337], filename: 'COCO_val2014_000000391895.jpg', imgid: 0, split: 'test', sentences: [sentence('A man riding a bike', 0, 770337)], cocoid: 391895 }],
      }),
    );
    const samples = await collect(new KarpathySplitSource(coco));
    expect(keysOf(samples)).toEqual(['391895']);
    expect(samples[0].meta).toMatchObject({ split: 'test', dataset: 'coco' });
  });
});

describe('ShareGpt4vSource', () => {
  it('takes the gpt turns as captions', async () => {
    const path = join(dir, 'share-captioner.json');
    await writeFile(
      path,
      JSON.stringify([
        { id: '000000000009', image: 'images/img0.jpg', conversations: [{ from: 'human', value: '<image>\nDescribe.' }, { from: 'gpt', value: 'The image shows a square.' }] },
        { id: 'x', image: 'images/img1.jpg', conversations: [{ from: 'human', value: 'hi' }] },
        { id: 'y', conversations: [] },
      ]),
    );
    const report = new SkipReport();
    const samples = await collect(new ShareGpt4vSource(path, { skipReport: report }));
    expect(keysOf(samples)).toEqual(['000000000009']);
    expect(samples[0].captions).toEqual(['The image shows a square.']);
    expect(report.summary().counts).toMatchObject({ 'missing-captions': 1, 'malformed-line': 1 });
  });
});

describe('DocciSource', () => {
  it('reads docci_descriptions.jsonlines with images/ beside it, by split', async () => {
    const root = join(dir, 'docci');
    await mkdir(join(root, 'images'), { recursive: true });
    await writeFile(join(root, 'images', 'test_00000.jpg'), await imageBytes('jpg', 3));
    await writeFile(join(root, 'images', 'train_00000.jpg'), await imageBytes('jpg', 4));
    await writeFile(
      join(root, 'docci_descriptions.jsonlines'),
      [
        { example_id: 'test_00000', split: 'test', image_file: 'test_00000.jpg', description: 'A long description of a test image.' },
        { example_id: 'train_00000', split: 'train', image_file: 'train_00000.jpg', description: 'Train.' },
      ]
        .map((o) => JSON.stringify(o))
        .join('\n'),
    );
    const samples = await collect(new DocciSource(join(root, 'docci_descriptions.jsonlines'), { split: 'test' }));
    expect(keysOf(samples)).toEqual(['test_00000']);
    expect(samples[0].captions).toEqual(['A long description of a test image.']);
  });
});

describe('Urban1kSource', () => {
  it('pairs caption/<n>.txt with image/<n>.jpg one to one', async () => {
    const root = join(dir, 'Urban1k');
    await mkdir(join(root, 'image'), { recursive: true });
    await mkdir(join(root, 'caption'), { recursive: true });
    for (const n of [1, 2]) {
      await writeFile(join(root, 'image', `${n}.jpg`), await imageBytes('jpg', n));
      await writeFile(join(root, 'caption', `${n}.txt`), `A long caption number ${n}.\n`);
    }
    await writeFile(join(root, 'caption', '3.txt'), 'no image for this one');
    const report = new SkipReport();
    const samples = await collect(new Urban1kSource(root, { skipReport: report }));
    expect(keysOf(samples)).toEqual(['1', '2']);
    expect(samples[1].captions).toEqual(['A long caption number 2.']);
    expect(report.count('missing-image')).toBe(1);
    expect(isLlm2ClipError(await new Urban1kSource(join(dir, 'nowhere')).open().catch((e: unknown) => e), 'E_NOT_FOUND')).toBe(true);
  });
});

describe('ImageFolderSource', () => {
  it('labels sorted class folders like torchvision ImageFolder, with class names from classnames.txt', async () => {
    const root = join(dir, 'imagenet', 'val');
    for (const [c, folder] of ['n01440764', 'n01443537'].entries()) {
      await mkdir(join(root, folder), { recursive: true });
      await writeFile(join(root, folder, `ILSVRC2012_val_${c}0.JPEG`), await imageBytes('jpg', c));
      await writeFile(join(root, folder, `ILSVRC2012_val_${c}1.png`), await imageBytes('png', c + 1));
      await writeFile(join(root, folder, 'notes.txt'), 'not an image');
    }
    await writeFile(join(dir, 'imagenet', 'classnames.txt'), 'tench\ngoldfish\n');
    await writeFile(join(dir, 'imagenet', 'zeroshot_classification_templates.txt'), 'a photo of a {c}.\na bad photo of the {c}.\n');
    const source = new ImageFolderSource(root, { extensions: ['jpeg', 'png'], classnames: join(dir, 'imagenet', 'classnames.txt') });
    const samples = await collect(source);
    expect(samples.map((s) => [s.meta?.label, s.captions[0]])).toEqual([
      [0, 'tench'],
      [0, 'tench'],
      [1, 'goldfish'],
      [1, 'goldfish'],
    ]);
    expect(await readTemplates(join(dir, 'imagenet', 'zeroshot_classification_templates.txt'))).toHaveLength(2);
    const mismatch = await new ImageFolderSource(root, { classnames: ['only one'] }).open().catch((e: unknown) => e);
    expect(isLlm2ClipError(mismatch, 'E_MISMATCH')).toBe(true);
  });
});

describe('IndexedSource ordering and sharding', () => {
  it('shuffles deterministically per seed and epoch, and shards into disjoint complete parts', async () => {
    const path = join(dir, 'many.jsonl');
    await writeFile(path, Array.from({ length: 20 }, (_, i) => JSON.stringify({ image: `images/img${i % 4}.jpg`, caption: `c${i}`, key: `k${i}` })).join('\n'));
    const source = new JsonlSource(path, { keyField: 'key' });
    const a = keysOf(await collect(source.samples({ seed: 1, epoch: 0 })));
    expect(a).toEqual(keysOf(await collect(source.samples({ seed: 1, epoch: 0 }))));
    expect(a).not.toEqual(keysOf(await collect(source.samples({ seed: 1, epoch: 1 }))));
    const parts = [0, 1, 2].map((i) => source.shard(i, 3));
    const seen = (await Promise.all(parts.map(async (p) => keysOf(await collect(p.samples({ seed: 4 })))))).flat();
    expect(seen.sort()).toEqual([...a].sort());
    expect(new Set(seen).size).toBe(20);
    expect((await parts[0].open()).size).toBe(7);
  });
});

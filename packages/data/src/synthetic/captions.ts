import type { Rng } from '@llm2clip/core';
import { CAPTION_TEMPLATES, NUMBER_WORDS, ORDINAL_WORDS, RELATIONS, fillTemplate, type Phrase, type SlotValues, type TemplatePool } from './caption-templates.js';
import { SIZES, type Scene, type SceneObject } from './scene.js';

/** Kinds of the four captions of a synthetic sample, in order: `[short, long, shortParaphrase, longParaphrase]`. */
export const CAPTION_KINDS = ['short', 'long', 'short', 'long'] as const;

/** Word bounds of short captions. */
export const SHORT_CAPTION_WORDS = { min: 4, max: 15 } as const;
/** Word bounds of long captions. */
export const LONG_CAPTION_WORDS = { min: 60, max: 150 } as const;

/** Number of words (runs of letters; punctuation not counted) in `text`. */
export function countWords(text: string): number {
  return text.match(/[a-z]+/gi)?.length ?? 0;
}

/** The relation phrase of `a` relative to `b` (e.g. `above and to the left of`). */
export function relationOf(a: SceneObject, b: SceneObject): (typeof RELATIONS)[number] {
  const vertical = a.row < b.row ? 'above' : a.row > b.row ? 'below' : undefined;
  const horizontal = a.col < b.col ? 'to the left of' : a.col > b.col ? 'to the right of' : undefined;
  const phrase = vertical !== undefined && horizontal !== undefined ? `${vertical} and ${horizontal}` : (vertical ?? horizontal);
  // distinct cells always differ in row or column
  return phrase as (typeof RELATIONS)[number];
}

/**
 * Objects from most to least salient: larger first, then nearer the image centre, then in
 * reading order.
 */
export function bySalience(objects: readonly SceneObject[]): SceneObject[] {
  const centreDistance = (o: SceneObject): number => (o.row - 1) ** 2 + (o.col - 1) ** 2;
  return objects
    .map((object, index) => ({ object, index }))
    .sort(
      (a, b) =>
        SIZES.indexOf(b.object.size) - SIZES.indexOf(a.object.size) ||
        centreDistance(a.object) - centreDistance(b.object) ||
        a.index - b.index,
    )
    .map((entry) => entry.object);
}

function backgroundSlots(scene: Scene): SlotValues {
  return { bg: scene.background.colour, bg2: scene.background.secondColour };
}

function fillFrom(rng: Rng, pool: TemplatePool, values: SlotValues): Phrase {
  return fillTemplate(rng.pick(CAPTION_TEMPLATES[pool]), values);
}

/**
 * A short caption (4–15 words) naming the one or two most salient objects, e.g.
 * `a red circle above a blue square`. Another Rng state usually gives a paraphrase (another
 * template, or the two objects in the other order with the inverse relation).
 */
export function shortCaption(scene: Scene, rng: Rng): string {
  const ordered = bySalience(scene.objects);
  const background = fillFrom(rng, `short.background.${scene.background.pattern}`, backgroundSlots(scene));
  let values: SlotValues;
  let pool: TemplatePool;
  if (ordered.length === 1) {
    const [only] = ordered;
    pool = 'short.one';
    values = { size: only.size, colour: only.colour, shape: only.shape, texture: only.texture, position: only.position, background };
  } else {
    let [a, b] = ordered;
    if (rng.bernoulli(0.5)) [a, b] = [b, a];
    pool = 'short.two';
    values = {
      colour: a.colour,
      shape: a.shape,
      size: a.size,
      colour2: b.colour,
      shape2: b.shape,
      size2: b.size,
      relation: relationOf(a, b),
      count: NUMBER_WORDS[ordered.length - 1],
      background,
    };
  }
  // try templates in a random order until one fits the word bounds
  const templates = rng.shuffle([...CAPTION_TEMPLATES[pool]]);
  let fallback = '';
  for (const template of templates) {
    const text = fillTemplate(template, values).text;
    const words = countWords(text);
    if (words >= SHORT_CAPTION_WORDS.min && words <= SHORT_CAPTION_WORDS.max) return text;
    if (fallback === '' || Math.abs(words - 8) < Math.abs(countWords(fallback) - 8)) fallback = text;
  }
  return fallback;
}

type SentenceRole = 'framing' | 'background' | 'count' | 'composition' | 'filler' | 'object' | 'texture' | 'extreme' | 'relation' | 'closing';

interface Sentence {
  role: SentenceRole;
  text: string;
}

function compositionFacts(scene: Scene, rng: Rng): Phrase[] {
  const objects = scene.objects;
  const n = objects.length;
  const facts: Phrase[] = [];
  if (n === 1) {
    facts.push(fillFrom(rng, 'long.composition.alone', {}));
  } else {
    const sides = [
      { side: 'upper', count: objects.filter((o) => o.row === 0).length },
      { side: 'lower', count: objects.filter((o) => o.row === 2).length },
      { side: 'left', count: objects.filter((o) => o.col === 0).length },
      { side: 'right', count: objects.filter((o) => o.col === 2).length },
    ].filter((entry) => entry.count > n / 2);
    if (sides.length > 0) facts.push(fillFrom(rng, 'long.composition.side', { side: rng.pick(sides).side }));
    else facts.push(fillFrom(rng, 'long.composition.spread', {}));
  }
  const centreTaken = objects.some((o) => o.row === 1 && o.col === 1);
  facts.push(fillFrom(rng, centreTaken ? 'long.composition.centre-full' : 'long.composition.centre-empty', {}));
  return rng.shuffle(facts);
}

function objectOrder(scene: Scene, rng: Rng): SceneObject[] {
  const roll = rng.float();
  if (roll < 0.6) return [...scene.objects];
  if (roll < 0.8) return [...scene.objects].reverse();
  return bySalience(scene.objects);
}

function uniqueExtreme(objects: readonly SceneObject[], object: SceneObject): 'largest' | 'smallest' | undefined {
  if (objects.length < 2) return undefined;
  const rank = SIZES.indexOf(object.size);
  const others = objects.filter((o) => o !== object).map((o) => SIZES.indexOf(o.size));
  if (others.every((r) => r < rank)) return 'largest';
  if (others.every((r) => r > rank)) return 'smallest';
  return undefined;
}

function describeObject(scene: Scene, object: SceneObject, index: number, rng: Rng): Sentence[] {
  const n = scene.objects.length;
  const slots: SlotValues = {
    size: object.size,
    colour: object.colour,
    shape: object.shape,
    position: object.position,
    ordinal: ORDINAL_WORDS[index],
  };
  const sentences: Sentence[] = [
    { role: 'object', text: fillFrom(rng, n === 1 ? 'long.object.only' : 'long.object.listed', slots).text },
    { role: 'texture', text: fillFrom(rng, `long.texture.${object.texture}`, slots).text },
  ];
  const extreme = uniqueExtreme(scene.objects, object);
  if (extreme !== undefined && rng.bernoulli(0.5)) {
    sentences.push({ role: 'extreme', text: fillFrom(rng, 'long.extreme', { ...slots, size: extreme === 'largest' ? 'large' : 'small', extreme }).text });
  }
  return sentences;
}

function relationSentences(objects: readonly SceneObject[], rng: Rng): Sentence[] {
  const pairs: Array<[SceneObject, SceneObject]> = [];
  for (let i = 0; i < objects.length; i++) {
    for (let j = i + 1; j < objects.length; j++) pairs.push(rng.bernoulli(0.5) ? [objects[i], objects[j]] : [objects[j], objects[i]]);
  }
  rng.shuffle(pairs);
  const keep = pairs.length === 0 ? 0 : Math.min(pairs.length, rng.int(1, 3));
  return pairs.slice(0, keep).map(([a, b]) => ({
    role: 'relation' as const,
    text: fillFrom(rng, 'long.relation', {
      colour: a.colour,
      shape: a.shape,
      colour2: b.colour,
      shape2: b.shape,
      relation: relationOf(a, b),
    }).text,
  }));
}

function totalWords(sentences: readonly Sentence[]): number {
  return sentences.reduce((sum, sentence) => sum + countWords(sentence.text), 0);
}

/**
 * A long, dense caption (60–150 words). It opens with the overview a human describer gives first
 * — framing, background colour and pattern, object count, composition and style sentences drawn
 * from varied templates — and only then describes every object (size, colour, shape, texture,
 * position) and some pairwise relations. With a few objects, the later objects' colours and
 * shapes therefore fall past the first 77 tokens, where a CLIP text tower stops reading.
 */
export function longCaption(scene: Scene, rng: Rng): string {
  const n = scene.objects.length;
  const framing: Sentence = { role: 'framing', text: fillFrom(rng, 'long.framing', {}).text };
  const background: Sentence = {
    role: 'background',
    text: fillFrom(rng, `long.background.${scene.background.pattern}`, backgroundSlots(scene)).text,
  };
  const count: Sentence = {
    role: 'count',
    text: (n === 1 ? fillFrom(rng, 'long.count.one', {}) : fillFrom(rng, 'long.count.many', { count: NUMBER_WORDS[n - 1] })).text,
  };
  // generic sentences: some go into the overview, the rest may pad the end of a short caption
  const generic: Sentence[] = rng.shuffle([
    ...compositionFacts(scene, rng).map((fact) => ({ role: 'composition' as const, text: fact.text })),
    ...CAPTION_TEMPLATES['long.filler'].map((text) => ({ role: 'filler' as const, text })),
  ]);
  const overviewExtras = generic.splice(0, rng.int(0, 2));
  const overview = [framing, ...rng.shuffle([background, count, ...overviewExtras])];

  const details: Sentence[] = [];
  objectOrder(scene, rng).forEach((object, index) => details.push(...describeObject(scene, object, index, rng)));
  details.push(...relationSentences(scene.objects, rng));

  const sentences = [...overview, ...details];
  if (rng.bernoulli(0.3)) sentences.push({ role: 'closing', text: fillFrom(rng, 'long.closing', {}).text });
  // too short: pad with remaining generic remarks after the details
  while (totalWords(sentences) < LONG_CAPTION_WORDS.min && generic.length > 0) {
    const closingIndex = sentences.findIndex((s) => s.role === 'closing');
    const remark = generic.shift() as Sentence;
    if (closingIndex >= 0) sentences.splice(closingIndex, 0, remark);
    else sentences.push(remark);
  }
  // too long: drop the least informative sentences first, from the end
  const dropOrder: SentenceRole[] = ['closing', 'filler', 'relation', 'extreme', 'composition'];
  for (const role of dropOrder) {
    while (totalWords(sentences) > LONG_CAPTION_WORDS.max) {
      const index = sentences.map((s) => s.role).lastIndexOf(role);
      if (index < 0) break;
      sentences.splice(index, 1);
    }
  }
  return sentences.map((sentence) => sentence.text).join(' ');
}

/** The four captions of a synthetic sample and their kinds. */
export interface SampleCaptions {
  /** `[short, long, shortParaphrase, longParaphrase]`. */
  readonly captions: readonly [string, string, string, string];
  /** Always {@link CAPTION_KINDS}. */
  readonly captionKinds: typeof CAPTION_KINDS;
}

/**
 * Draws the four captions of a sample: a short and a long caption, then a paraphrase of each
 * (redrawn a few times if it came out identical to the first).
 */
export function sampleCaptions(scene: Scene, rng: Rng): SampleCaptions {
  const short = shortCaption(scene, rng);
  const long = longCaption(scene, rng);
  let shortParaphrase = shortCaption(scene, rng);
  for (let attempt = 0; attempt < 8 && shortParaphrase === short; attempt++) shortParaphrase = shortCaption(scene, rng);
  let longParaphrase = longCaption(scene, rng);
  for (let attempt = 0; attempt < 8 && longParaphrase === long; attempt++) longParaphrase = longCaption(scene, rng);
  return { captions: [short, long, shortParaphrase, longParaphrase], captionKinds: CAPTION_KINDS };
}

import { describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import {
  CAPTION_KINDS,
  CAPTION_TEMPLATES,
  LONG_CAPTION_WORDS,
  SHORT_CAPTION_WORDS,
  analyseLongCaption,
  bySalience,
  captionVocabulary,
  countWords,
  fillTemplate,
  generateScene,
  longCaption,
  measureLongCaptions,
  outOfVocabularyWords,
  relationOf,
  sampleCaptions,
  shortCaption,
  splitWords,
  templateSlots,
  SLOT_VALUES,
  PHRASE_SLOTS,
  type SceneObject,
} from '../src/index.js';

function* scenesWithCaptions(seed: number, count: number) {
  const rng = new Rng(seed);
  for (let i = 0; i < count; i++) {
    const scene = generateScene(rng);
    yield { scene, ...sampleCaptions(scene, rng) };
  }
}

describe('captions', () => {
  it('keeps short captions at 4-15 words and long captions at 60-150 words', () => {
    for (const { captions } of scenesWithCaptions(1, 1000)) {
      for (const index of [0, 2]) {
        expect(countWords(captions[index])).toBeGreaterThanOrEqual(SHORT_CAPTION_WORDS.min);
        expect(countWords(captions[index])).toBeLessThanOrEqual(SHORT_CAPTION_WORDS.max);
      }
      for (const index of [1, 3]) {
        expect(countWords(captions[index])).toBeGreaterThanOrEqual(LONG_CAPTION_WORDS.min);
        expect(countWords(captions[index])).toBeLessThanOrEqual(LONG_CAPTION_WORDS.max);
      }
    }
  });

  it('uses only words of the closed vocabulary (2000 captions)', () => {
    const vocabulary = new Set(captionVocabulary());
    let captionsChecked = 0;
    for (const { captions } of scenesWithCaptions(2, 500)) {
      for (const caption of captions) {
        expect(outOfVocabularyWords(caption, vocabulary), caption).toEqual([]);
        expect(caption).toBe(caption.toLowerCase());
        expect(caption).toMatch(/^[a-z ,.]+$/);
        captionsChecked++;
      }
    }
    expect(captionsChecked).toBe(2000);
  });

  it('derives the vocabulary from the templates and slot values', () => {
    const vocabulary = captionVocabulary();
    expect(vocabulary).toEqual([...new Set(vocabulary)].sort());
    for (const pool of Object.values(CAPTION_TEMPLATES)) {
      for (const template of pool) {
        for (const slot of templateSlots(template)) {
          const kind = slot.replace(/\d+$/, '');
          expect(kind in SLOT_VALUES || (PHRASE_SLOTS as readonly string[]).includes(kind), `${slot} in ${template}`).toBe(true);
        }
      }
    }
    for (const word of ['hexagon', 'checkered', 'above', 'gradient', 'centre', ',', '.']) expect(vocabulary).toContain(word);
    expect(() => fillTemplate('a {colour} {shape}', { colour: 'magenta', shape: 'circle' })).toThrow(/not allowed/);
    expect(() => fillTemplate('a {colour} {shape}', { colour: 'red' })).toThrow(/not allowed/);
  });

  it('returns [short, long, short paraphrase, long paraphrase] with kinds, paraphrases differing', () => {
    let sameShort = 0;
    for (const { captions, captionKinds } of scenesWithCaptions(3, 300)) {
      expect(captionKinds).toEqual(CAPTION_KINDS);
      expect(captions[3]).not.toBe(captions[1]);
      if (captions[2] === captions[0]) sameShort++;
    }
    expect(sameShort / 300).toBeLessThan(0.05);
  });

  it('names the most salient objects in short captions with a true relation', () => {
    const rng = new Rng(4);
    for (let i = 0; i < 300; i++) {
      const scene = generateScene(rng);
      const caption = shortCaption(scene, rng);
      const [first, second] = bySalience(scene.objects);
      expect(caption).toContain(`${first.colour} ${first.shape}`);
      if (second !== undefined) {
        expect(caption).toContain(`${second.colour} ${second.shape}`);
        const a = caption.indexOf(`${first.colour} ${first.shape}`) < caption.indexOf(`${second.colour} ${second.shape}`) ? first : second;
        const b = a === first ? second : first;
        for (const relation of ['above', 'below', 'left of', 'right of']) {
          if (caption.includes(` ${relation} `)) expect(relationOf(a, b)).toContain(relation);
        }
      }
    }
  });

  it('gives relations from grid positions', () => {
    const at = (row: number, col: number): SceneObject => ({
      shape: 'circle', colour: 'red', size: 'small', texture: 'solid', row, col, position: 'centre', offsetX: 0, offsetY: 0,
    });
    expect(relationOf(at(0, 1), at(2, 1))).toBe('above');
    expect(relationOf(at(1, 2), at(1, 0))).toBe('to the right of');
    expect(relationOf(at(2, 0), at(0, 2))).toBe('below and to the left of');
  });

  it('describes every object (colour, shape, size, position, texture) in the long caption, after the overview', () => {
    const rng = new Rng(5);
    for (let i = 0; i < 300; i++) {
      const scene = generateScene(rng);
      const caption = longCaption(scene, rng);
      const { firstMention } = analyseLongCaption(scene, caption);
      expect(firstMention.every((index) => index > 0)).toBe(true);
      for (const object of scene.objects) {
        expect(caption).toContain(`${object.size} ${object.colour} ${object.shape}`);
        expect(caption).toContain(object.position);
      }
      // the background comes before any object
      const words = splitWords(caption);
      const backgroundIndex = words.findIndex((w, k) => w === scene.background.colour && k < Math.min(...firstMention));
      expect(backgroundIndex).toBeGreaterThanOrEqual(0);
    }
  });

  it('puts object details past CLIP\'s 77 tokens in most long captions (500 scenes)', () => {
    const stats = measureLongCaptions({ seed: 2024, scenes: 500 });
    console.log(
      `long captions over 500 scenes: tokens min ${stats.tokens.min} / p10 ${stats.tokens.p10} / median ${stats.tokens.median} / p90 ${stats.tokens.p90} / max ${stats.tokens.max}; ` +
        `> 77 tokens: ${(stats.fractionLongerThanContext * 100).toFixed(1)}%; ` +
        `an object's colour+shape first named after token 77: ${(stats.fractionWithObjectPastContext * 100).toFixed(1)}% of captions, ` +
        `${(stats.fractionOfObjectsPastContext * 100).toFixed(1)}% of objects`,
    );
    expect(stats.captions).toBe(500);
    expect(stats.fractionLongerThanContext).toBeGreaterThan(0.75);
    expect(stats.fractionWithObjectPastContext).toBeGreaterThan(0.4);
    // not trivially so: the first object described usually fits in the window
    expect(stats.fractionOfObjectsPastContext).toBeLessThan(0.6);
  });

  it('is deterministic given the Rng', () => {
    const a = [...scenesWithCaptions(9, 20)].map((s) => s.captions);
    const b = [...scenesWithCaptions(9, 20)].map((s) => s.captions);
    expect(a).toEqual(b);
  });
});

import { describe, expect, it } from 'vitest';
import { Rng, isLlm2ClipError } from '@llm2clip/core';
import { COLOUR_NAMES, SHAPES, TEXTURES, backgroundColours, generateScene, sceneSignature, SIZE_SCALE } from '../src/index.js';

describe('generateScene', () => {
  it('gives the same scene for the same Rng state', () => {
    const a = Array.from({ length: 50 }, ((rng) => () => generateScene(rng))(new Rng(11)));
    const b = Array.from({ length: 50 }, ((rng) => () => generateScene(rng))(new Rng(11)));
    expect(a).toEqual(b);
    expect(generateScene(new Rng(12))).not.toEqual(a[0]);
  });

  it('puts 1-4 objects in distinct cells, in reading order, never in a background colour', () => {
    const rng = new Rng(3);
    const counts = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const scene = generateScene(rng);
      counts.add(scene.objects.length);
      const cells = scene.objects.map((o) => o.row * 3 + o.col);
      expect(new Set(cells).size).toBe(cells.length);
      expect([...cells].sort((x, y) => x - y)).toEqual(cells);
      const bg = backgroundColours(scene.background);
      const names = new Set<string>();
      for (const object of scene.objects) {
        expect(bg).not.toContain(object.colour);
        expect(names.has(`${object.colour} ${object.shape}`)).toBe(false);
        names.add(`${object.colour} ${object.shape}`);
        const slack = (1 - SIZE_SCALE[object.size]) / 2;
        expect(Math.abs(object.offsetX)).toBeLessThanOrEqual(slack);
        expect(Math.abs(object.offsetY)).toBeLessThanOrEqual(slack);
      }
      if (scene.background.pattern.includes('gradient') || scene.background.pattern === 'stripes') {
        expect(scene.background.secondColour).toBeDefined();
        expect(scene.background.secondColour).not.toBe(scene.background.colour);
      }
    }
    expect([...counts].sort()).toEqual([1, 2, 3, 4]);
  });

  it('draws every shape, colour and texture', () => {
    const rng = new Rng(5);
    const shapes = new Set<string>();
    const colours = new Set<string>();
    const textures = new Set<string>();
    for (let i = 0; i < 400; i++) {
      for (const o of generateScene(rng).objects) {
        shapes.add(o.shape);
        colours.add(o.colour);
        textures.add(o.texture);
      }
    }
    expect(shapes.size).toBe(SHAPES.length);
    expect(colours.size).toBe(COLOUR_NAMES.length);
    expect(textures.size).toBe(TEXTURES.length);
  });

  it('honours object-count options and rejects impossible ones', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 50; i++) expect(generateScene(rng, { minObjects: 3, maxObjects: 3 }).objects).toHaveLength(3);
    expect(() => generateScene(rng, { maxObjects: 7 })).toThrow(/maxObjects/);
    try {
      generateScene(rng, { minObjects: 0 });
    } catch (error) {
      expect(isLlm2ClipError(error, 'E_CONFIG')).toBe(true);
    }
  });

  it('signatures ignore jitter but not content', () => {
    const scene = generateScene(new Rng(9));
    const moved = { ...scene, objects: scene.objects.map((o) => ({ ...o, offsetX: 0, offsetY: 0 })) };
    expect(sceneSignature(moved)).toBe(sceneSignature(scene));
    const recoloured = { ...scene, objects: scene.objects.map((o, i) => (i === 0 ? { ...o, shape: o.shape === 'star' ? 'ring' : 'star' } as const : o)) };
    expect(sceneSignature(recoloured)).not.toBe(sceneSignature(scene));
  });
});

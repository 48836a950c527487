import { describe, expect, it } from 'vitest';
import { Rng } from '@llm2clip/core';
import {
  COLOUR_NAMES,
  SHAPES,
  colourRgb,
  generateScene,
  renderScene,
  textureShade,
  type Rgb,
  type Scene,
  type SceneObject,
  type Shape,
} from '../src/index.js';

function distance2(data: Uint8Array, i: number, rgb: Rgb): number {
  return (data[i] - rgb[0]) ** 2 + (data[i + 1] - rgb[1]) ** 2 + (data[i + 2] - rgb[2]) ** 2;
}

function centred(shape: Shape, overrides: Partial<SceneObject> = {}): Scene {
  return {
    background: { pattern: 'plain', colour: 'white' },
    objects: [{ shape, colour: 'blue', size: 'large', texture: 'solid', row: 1, col: 1, position: 'centre', offsetX: 0, offsetY: 0, ...overrides }],
  };
}

function objectMask(scene: Scene, size: number): boolean[] {
  const withObjects = renderScene(scene, size).data;
  const background = renderScene({ ...scene, objects: [] }, size).data;
  return Array.from({ length: size * size }, (_, p) => distance2(withObjects, p * 3, [background[p * 3], background[p * 3 + 1], background[p * 3 + 2]]) > 30 ** 2);
}

describe('renderScene', () => {
  it('returns a size x size RGB image, deterministically', () => {
    const scene = generateScene(new Rng(2));
    const image = renderScene(scene);
    expect(image).toMatchObject({ kind: 'raw', width: 64, height: 64, channels: 3 });
    expect(image.data).toHaveLength(64 * 64 * 3);
    expect(renderScene(scene).data).toEqual(image.data);
    expect(renderScene(scene, 96).data).toHaveLength(96 * 96 * 3);
    expect(renderScene(scene, 64, { antialias: false }).data).not.toEqual(image.data);
  });

  it("makes each object's colour dominate the pixels it changes in its cell", () => {
    const rng = new Rng(8);
    const size = 64;
    const cell = size / 3;
    const ratios: number[] = [];
    for (let n = 0; n < 200; n++) {
      const scene = generateScene(rng);
      const withObjects = renderScene(scene, size).data;
      const background = renderScene({ ...scene, objects: [] }, size).data;
      for (const object of scene.objects) {
        const own = [colourRgb(object.colour), textureShade(object.colour)];
        const others = COLOUR_NAMES.filter((c) => c !== object.colour).map(colourRgb);
        let changed = 0;
        let ownNearest = 0;
        for (let y = Math.ceil(object.row * cell); y < Math.floor((object.row + 1) * cell); y++) {
          for (let x = Math.ceil(object.col * cell); x < Math.floor((object.col + 1) * cell); x++) {
            const i = (y * size + x) * 3;
            if (distance2(withObjects, i, [background[i], background[i + 1], background[i + 2]]) < 30 ** 2) continue;
            changed++;
            const ownDistance = Math.min(...own.map((rgb) => distance2(withObjects, i, rgb)));
            if (others.every((rgb) => ownDistance <= distance2(withObjects, i, rgb))) ownNearest++;
          }
        }
        // a small star covers ~9% of its cell, a large square ~57%
        expect(changed).toBeGreaterThan(0.05 * cell * cell);
        // the rest are anti-aliased edge pixels, blends of object and background
        expect(ownNearest / changed).toBeGreaterThan(0.6);
        ratios.push(ownNearest / changed);
      }
    }
    expect(ratios.length).toBeGreaterThan(300);
    expect(ratios.reduce((sum, r) => sum + r, 0) / ratios.length).toBeGreaterThan(0.85);
  });

  it('draws the shapes so that each is distinguishable from every other at 64 px', () => {
    const masks = new Map(SHAPES.map((shape) => [shape, objectMask(centred(shape), 64)]));
    for (const a of SHAPES) {
      for (const b of SHAPES) {
        if (a >= b) continue;
        const ma = masks.get(a) as boolean[];
        const mb = masks.get(b) as boolean[];
        let different = 0;
        let union = 0;
        for (let p = 0; p < ma.length; p++) {
          if (ma[p] !== mb[p]) different++;
          if (ma[p] || mb[p]) union++;
        }
        // the closest pair (circle and hexagon) differs in about 14% of the pixels either covers
        expect(different / union, `${a} vs ${b}`).toBeGreaterThan(0.1);
        expect(different, `${a} vs ${b}`).toBeGreaterThan(30);
      }
    }
    const centre = 32 * 64 + 32;
    expect(masks.get('ring')?.[centre]).toBe(false);
    expect(masks.get('circle')?.[centre]).toBe(true);
    expect(masks.get('cross')?.[centre]).toBe(true);
    // the cross leaves its bounding box corners empty, the square fills them
    const corner = (32 - 8) * 64 + (32 - 8);
    expect(masks.get('cross')?.[corner]).toBe(false);
    expect(masks.get('square')?.[corner]).toBe(true);
  });

  it('keeps objects inside their own cell', () => {
    const rng = new Rng(4);
    for (let n = 0; n < 100; n++) {
      const scene = generateScene(rng, { minObjects: 1, maxObjects: 1 });
      const mask = objectMask(scene, 63);
      const [object] = scene.objects;
      mask.forEach((changed, p) => {
        if (!changed) return;
        expect(Math.floor(Math.floor(p / 63) / 21)).toBe(object.row);
        expect(Math.floor((p % 63) / 21)).toBe(object.col);
      });
    }
  });

  it('renders textures as two shades of the object colour', () => {
    const count = (texture: SceneObject['texture']): number => {
      const image = renderScene(centred('square', { texture }), 64, { antialias: false }).data;
      const shade = textureShade('blue');
      let shaded = 0;
      for (let i = 0; i < image.length; i += 3) if (distance2(image, i, shade) === 0) shaded++;
      return shaded;
    };
    expect(count('solid')).toBe(0);
    for (const texture of ['striped', 'dotted', 'checkered'] as const) expect(count(texture)).toBeGreaterThan(20);
  });

  it('renders thousands of images per minute', () => {
    const rng = new Rng(1);
    const scenes = Array.from({ length: 300 }, () => generateScene(rng));
    const start = performance.now();
    for (const scene of scenes) renderScene(scene);
    const perMinute = (300 / (performance.now() - start)) * 60_000;
    expect(perMinute).toBeGreaterThan(5000);
  });
});

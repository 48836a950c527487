import { Llm2ClipError, type Rng } from '@llm2clip/core';
import { COLOUR_NAMES, type ColourName } from './palette.js';

/** Shapes a scene object can have. */
export const SHAPES = ['circle', 'square', 'triangle', 'diamond', 'star', 'cross', 'ring', 'hexagon'] as const;
/** One of {@link SHAPES}. */
export type Shape = (typeof SHAPES)[number];

/** Object sizes, smallest first. */
export const SIZES = ['small', 'medium', 'large'] as const;
/** One of {@link SIZES}. */
export type Size = (typeof SIZES)[number];

/** Surface textures of an object. */
export const TEXTURES = ['solid', 'striped', 'dotted', 'checkered'] as const;
/** One of {@link TEXTURES}. */
export type Texture = (typeof TEXTURES)[number];

/** Background patterns. Gradients run from `colour` to `secondColour`. */
export const BACKGROUND_PATTERNS = ['plain', 'vertical-gradient', 'horizontal-gradient', 'noise', 'stripes'] as const;
/** One of {@link BACKGROUND_PATTERNS}. */
export type BackgroundPattern = (typeof BACKGROUND_PATTERNS)[number];

/** Names of the 3×3 grid cells, row-major (index = row·3 + column). */
export const POSITIONS = [
  'top left',
  'top centre',
  'top right',
  'centre left',
  'centre',
  'centre right',
  'bottom left',
  'bottom centre',
  'bottom right',
] as const;
/** One of {@link POSITIONS}. */
export type PositionName = (typeof POSITIONS)[number];

/** Side length of the scene grid (3 → a 3×3 grid). */
export const GRID_SIZE = 3;

/** The most objects a scene can hold under this generator. */
export const MAX_OBJECTS = 4;

/** The background of a scene. */
export interface SceneBackground {
  /** How the background is painted. */
  readonly pattern: BackgroundPattern;
  /** Main colour (the only one for `plain` and `noise`; the start of a gradient; the first stripe). */
  readonly colour: ColourName;
  /** Second colour, for gradients (end colour) and stripes. */
  readonly secondColour?: ColourName;
  /** Seed of the per-pixel noise, for `noise` backgrounds (drawn from the scene's Rng). */
  readonly noiseSeed?: number;
}

/** One object of a scene, occupying one grid cell. */
export interface SceneObject {
  readonly shape: Shape;
  readonly colour: ColourName;
  readonly size: Size;
  readonly texture: Texture;
  /** Grid row, 0 (top) to 2 (bottom). */
  readonly row: number;
  /** Grid column, 0 (left) to 2 (right). */
  readonly col: number;
  /** Name of the cell, e.g. `top left`. */
  readonly position: PositionName;
  /** Horizontal offset of the centre from the cell centre, as a fraction of the cell size. */
  readonly offsetX: number;
  /** Vertical offset of the centre from the cell centre, as a fraction of the cell size. */
  readonly offsetY: number;
}

/** A synthetic scene: a background and 1–4 objects in distinct cells of a 3×3 grid, in reading order. */
export interface Scene {
  readonly background: SceneBackground;
  readonly objects: readonly SceneObject[];
}

/** Options of {@link generateScene}. */
export interface SceneOptions {
  /** Fewest objects, at least 1 (default 1). */
  minObjects?: number;
  /** Most objects, at most {@link MAX_OBJECTS} (default 4). */
  maxObjects?: number;
  /** Move objects randomly inside their cell (default true). */
  jitter?: boolean;
}

/** Fraction of the cell that an object's bounding square spans, per size. */
export const SIZE_SCALE: Readonly<Record<Size, number>> = { small: 0.5, medium: 0.7, large: 0.92 };

function twoColourPattern(pattern: BackgroundPattern): boolean {
  return pattern === 'vertical-gradient' || pattern === 'horizontal-gradient' || pattern === 'stripes';
}

/** Colours used by the background of `scene` (objects never take them). */
export function backgroundColours(background: SceneBackground): ColourName[] {
  return background.secondColour !== undefined ? [background.colour, background.secondColour] : [background.colour];
}

function roundTo(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/**
 * Draws a random scene from `rng`. The same Rng state gives the same scene. Objects never share
 * a grid cell, never take a background colour, and no two objects share both shape and colour
 * (so "the red circle" names one object).
 *
 * @example
 * ```ts
 * const scene = generateScene(new Rng(7), { maxObjects: 3 });
 * ```
 */
export function generateScene(rng: Rng, options: SceneOptions = {}): Scene {
  const minObjects = options.minObjects ?? 1;
  const maxObjects = options.maxObjects ?? MAX_OBJECTS;
  if (!Number.isInteger(minObjects) || !Number.isInteger(maxObjects) || minObjects < 1 || maxObjects > MAX_OBJECTS || minObjects > maxObjects) {
    throw new Llm2ClipError(
      'E_CONFIG',
      `scene object count must satisfy 1 <= minObjects <= maxObjects <= ${MAX_OBJECTS}, got ${minObjects}..${maxObjects}`,
      { field: 'minObjects/maxObjects' },
    );
  }
  const jitter = options.jitter ?? true;

  const pattern = rng.pick(BACKGROUND_PATTERNS);
  const colour = rng.pick(COLOUR_NAMES);
  let background: SceneBackground = { pattern, colour };
  if (twoColourPattern(pattern)) {
    background = { ...background, secondColour: rng.pick(COLOUR_NAMES.filter((name) => name !== colour)) };
  } else if (pattern === 'noise') {
    background = { ...background, noiseSeed: rng.int(0, 0x7fffffff) };
  }
  const excluded = new Set(backgroundColours(background));
  const objectColours = COLOUR_NAMES.filter((name) => !excluded.has(name));

  const count = rng.int(minObjects, maxObjects);
  const cells = rng.permutation(GRID_SIZE * GRID_SIZE).slice(0, count).sort((a, b) => a - b);
  const used = new Set<string>();
  const objects: SceneObject[] = [];
  for (const cell of cells) {
    let shape: Shape;
    let objectColour: ColourName;
    do {
      shape = rng.pick(SHAPES);
      objectColour = rng.pick(objectColours);
    } while (used.has(`${objectColour} ${shape}`));
    used.add(`${objectColour} ${shape}`);
    const size = rng.pick(SIZES);
    const texture = rng.pick(TEXTURES);
    // keep the whole bounding square inside the cell, with a little margin
    const slack = jitter ? Math.max(0, (1 - SIZE_SCALE[size]) / 2 - 0.02) : 0;
    const offsetX = slack > 0 ? roundTo(rng.uniform(-slack, slack), 4) : 0;
    const offsetY = slack > 0 ? roundTo(rng.uniform(-slack, slack), 4) : 0;
    objects.push({
      shape,
      colour: objectColour,
      size,
      texture,
      row: Math.floor(cell / GRID_SIZE),
      col: cell % GRID_SIZE,
      position: POSITIONS[cell],
      offsetX,
      offsetY,
    });
  }
  return { background, objects };
}

/**
 * A string that identifies what a scene shows (background and objects, not the exact jitter or
 * noise), used to keep test scenes distinct from training scenes.
 */
export function sceneSignature(scene: Scene): string {
  const bg = scene.background;
  const objects = scene.objects.map((o) => `${o.row}${o.col}:${o.size} ${o.texture} ${o.colour} ${o.shape}`);
  return `${bg.pattern}:${bg.colour}:${bg.secondColour ?? '-'}|${objects.join('|')}`;
}

import { Llm2ClipError, type RawImage } from '@llm2clip/core';
import { backgroundRgb, colourRgb, textureShade, type Rgb } from './palette.js';
import { GRID_SIZE, SIZE_SCALE, type Scene, type SceneBackground, type SceneObject, type Shape, type Texture } from './scene.js';

/** Options of {@link renderScene}. */
export interface RenderOptions {
  /** Smooth shape edges by supersampling (default true). */
  antialias?: boolean;
  /** Subsamples per pixel side when anti-aliasing (default 4, i.e. 16 per pixel). */
  supersample?: number;
}

/** Default image side in pixels. */
export const DEFAULT_IMAGE_SIZE = 64;

type Point = readonly [number, number];

function regularStar(points: number, inner: number): Point[] {
  const vertices: Point[] = [];
  for (let i = 0; i < points * 2; i++) {
    const radius = i % 2 === 0 ? 1 : inner;
    const angle = -Math.PI / 2 + (i * Math.PI) / points;
    vertices.push([radius * Math.cos(angle), radius * Math.sin(angle)]);
  }
  return vertices;
}

const TRIANGLE: Point[] = [
  [0, -1],
  [1, 0.8],
  [-1, 0.8],
];
const STAR = regularStar(5, 0.45);
const SQRT3 = Math.sqrt(3);

function insidePolygon(polygon: readonly Point[], u: number, v: number): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > v !== yj > v && u < ((xj - xi) * (v - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * Whether the point `(u, v)` of the unit square `[-1, 1]²` (v pointing down) lies inside `shape`.
 * Shapes are sized so that each fills a recognisable part of its bounding square.
 */
export function insideShape(shape: Shape, u: number, v: number): boolean {
  switch (shape) {
    case 'circle':
      return u * u + v * v <= 1;
    case 'square':
      return Math.abs(u) <= 0.82 && Math.abs(v) <= 0.82;
    case 'triangle':
      return insidePolygon(TRIANGLE, u, v);
    case 'diamond':
      return Math.abs(u) + Math.abs(v) <= 1;
    case 'star':
      return insidePolygon(STAR, u, v);
    case 'cross': {
      const au = Math.abs(u);
      const av = Math.abs(v);
      return (au <= 0.32 && av <= 1) || (av <= 0.32 && au <= 1);
    }
    case 'ring': {
      const r2 = u * u + v * v;
      return r2 <= 1 && r2 >= 0.5 * 0.5;
    }
    case 'hexagon': {
      // flat-topped regular hexagon with circumradius 1
      const au = Math.abs(u);
      const av = Math.abs(v);
      return av <= SQRT3 / 2 && SQRT3 * au + av <= SQRT3;
    }
  }
}

function positiveModulo(value: number, modulus: number): number {
  return ((value % modulus) + modulus) % modulus;
}

/** Whether texture coordinates `(x, y)` (in 1/64ths of the image side, relative to the object centre) take the shade colour. */
function textureUsesShade(texture: Texture, x: number, y: number): boolean {
  switch (texture) {
    case 'solid':
      return false;
    case 'striped':
      return Math.floor((x + y) / 3) % 2 !== 0;
    case 'dotted': {
      const dx = positiveModulo(x, 4) - 2;
      const dy = positiveModulo(y, 4) - 2;
      return dx * dx + dy * dy <= 1.5;
    }
    case 'checkered':
      return (Math.floor(x / 3) + Math.floor(y / 3)) % 2 !== 0;
  }
}

/** A 32-bit integer hash of three integers, mapped to [0, 1). */
function hash01(seed: number, x: number, y: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ Math.imul(x + 0x632be5ab, 0xc2b2ae35), 0x27d4eb2f);
  h = Math.imul(h ^ Math.imul(y + 0x165667b1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 13;
  return (h >>> 0) / 4294967296;
}

function clampByte(value: number): number {
  return value < 0 ? 0 : value > 255 ? 255 : Math.round(value);
}

function paintBackground(data: Uint8Array, size: number, background: SceneBackground): void {
  const first = backgroundRgb(background.colour);
  const second = backgroundRgb(background.secondColour ?? background.colour);
  const stripe = Math.max(1, size / 8);
  const noiseSeed = background.noiseSeed ?? 0;
  const noiseScale = size / DEFAULT_IMAGE_SIZE;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let r = first[0];
      let g = first[1];
      let b = first[2];
      switch (background.pattern) {
        case 'plain':
          break;
        case 'vertical-gradient':
        case 'horizontal-gradient': {
          const t = (background.pattern === 'vertical-gradient' ? y : x) / Math.max(1, size - 1);
          r += (second[0] - first[0]) * t;
          g += (second[1] - first[1]) * t;
          b += (second[2] - first[2]) * t;
          break;
        }
        case 'noise': {
          // grain of about one pixel at 64 px, the same grain at other sizes
          const offset = (hash01(noiseSeed, Math.floor(x / noiseScale), Math.floor(y / noiseScale)) - 0.5) * 64;
          r += offset;
          g += offset;
          b += offset;
          break;
        }
        case 'stripes':
          if (Math.floor(y / stripe) % 2 !== 0) [r, g, b] = second;
          break;
      }
      const i = (y * size + x) * 3;
      data[i] = clampByte(r);
      data[i + 1] = clampByte(g);
      data[i + 2] = clampByte(b);
    }
  }
}

function paintObject(data: Uint8Array, size: number, object: SceneObject, subsamples: number): void {
  const cell = size / GRID_SIZE;
  const cx = (object.col + 0.5 + object.offsetX) * cell;
  const cy = (object.row + 0.5 + object.offsetY) * cell;
  const radius = (SIZE_SCALE[object.size] * cell) / 2;
  const main = colourRgb(object.colour);
  const shade = textureShade(object.colour);
  const textureUnit = size / DEFAULT_IMAGE_SIZE;
  const x0 = Math.max(0, Math.floor(cx - radius));
  const x1 = Math.min(size - 1, Math.ceil(cx + radius));
  const y0 = Math.max(0, Math.floor(cy - radius));
  const y1 = Math.min(size - 1, Math.ceil(cy + radius));
  const total = subsamples * subsamples;
  const inside = (px: number, py: number): boolean => insideShape(object.shape, (px - cx) / radius, (py - cy) / radius);
  const colourAt = (px: number, py: number): Rgb =>
    textureUsesShade(object.texture, (px - cx) / textureUnit, (py - cy) / textureUnit) ? shade : main;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      // corners and centre decide whether the pixel is outside, inside, or on an edge; only edge
      // pixels pay for the shape test at every subsample
      const probes =
        subsamples === 1
          ? Number(inside(x + 0.5, y + 0.5)) * 5
          : Number(inside(x, y)) + Number(inside(x + 1, y)) + Number(inside(x, y + 1)) + Number(inside(x + 1, y + 1)) + Number(inside(x + 0.5, y + 0.5));
      if (probes === 0) continue;
      const interior = probes === 5;
      let r = 0;
      let g = 0;
      let b = 0;
      let covered = 0;
      if (interior && object.texture === 'solid') {
        r = main[0] * total;
        g = main[1] * total;
        b = main[2] * total;
        covered = total;
      } else {
        for (let sy = 0; sy < subsamples; sy++) {
          const py = y + (sy + 0.5) / subsamples;
          for (let sx = 0; sx < subsamples; sx++) {
            const px = x + (sx + 0.5) / subsamples;
            if (!interior && !inside(px, py)) continue;
            const rgb = colourAt(px, py);
            r += rgb[0];
            g += rgb[1];
            b += rgb[2];
            covered++;
          }
        }
      }
      if (covered === 0) continue;
      const i = (y * size + x) * 3;
      const keep = (total - covered) / total;
      data[i] = clampByte(data[i] * keep + r / total);
      data[i + 1] = clampByte(data[i + 1] * keep + g / total);
      data[i + 2] = clampByte(data[i + 2] * keep + b / total);
    }
  }
}

/**
 * Rasterises `scene` into a `size × size` RGB image (pure JavaScript, no canvas). The grid is
 * 3×3 cells of `size / 3`; each object is drawn in its cell with its colour, and its texture in a
 * shade of that colour. The result depends only on `scene`, `size` and `options`.
 */
export function renderScene(scene: Scene, size: number = DEFAULT_IMAGE_SIZE, options: RenderOptions = {}): RawImage {
  if (!Number.isInteger(size) || size < 8 || size > 4096) {
    throw new Llm2ClipError('E_CONFIG', `image size must be an integer in [8, 4096], got ${size}`, { field: 'imageSize' });
  }
  const antialias = options.antialias ?? true;
  const subsamples = antialias ? (options.supersample ?? 4) : 1;
  if (!Number.isInteger(subsamples) || subsamples < 1 || subsamples > 16) {
    throw new Llm2ClipError('E_CONFIG', `supersample must be an integer in [1, 16], got ${subsamples}`, { field: 'supersample' });
  }
  const data = new Uint8Array(size * size * 3);
  paintBackground(data, size, scene.background);
  for (const object of scene.objects) paintObject(data, size, object, subsamples);
  return { kind: 'raw', width: size, height: size, channels: 3, data };
}

/** Named colours the synthetic scenes use, each with a distinct RGB value. */
export const COLOURS = {
  red: [220, 38, 38],
  orange: [245, 140, 20],
  yellow: [240, 220, 40],
  green: [34, 160, 60],
  cyan: [40, 200, 215],
  blue: [40, 80, 220],
  purple: [135, 55, 190],
  pink: [245, 130, 195],
  brown: [125, 75, 35],
  white: [245, 245, 245],
  black: [20, 20, 20],
  grey: [128, 128, 128],
} as const satisfies Record<string, readonly [number, number, number]>;

/** A colour name of {@link COLOURS}. */
export type ColourName = keyof typeof COLOURS;

/** An RGB triple, each channel 0–255. */
export type Rgb = readonly [number, number, number];

/** All colour names, in a fixed order (the order draws are made in). */
export const COLOUR_NAMES = Object.keys(COLOURS) as readonly ColourName[];

/** The RGB value of a named colour. */
export function colourRgb(name: ColourName): Rgb {
  return COLOURS[name];
}

/** The named colour nearest to `rgb` (squared RGB distance). */
export function nearestColour(rgb: Rgb): ColourName {
  let best: ColourName = COLOUR_NAMES[0];
  let bestDistance = Infinity;
  for (const name of COLOUR_NAMES) {
    const [r, g, b] = COLOURS[name];
    const distance = (r - rgb[0]) ** 2 + (g - rgb[1]) ** 2 + (b - rgb[2]) ** 2;
    if (distance < bestDistance) {
      bestDistance = distance;
      best = name;
    }
  }
  return best;
}

const shadeCache = new Map<ColourName, Rgb>();

/**
 * The secondary colour of a textured object (stripes, dots, checks): the colour mixed towards
 * black (towards white for dark colours) as far as it can go, up to 40%, while it still reads as
 * the same named colour. Every mix of the colour and its shade is then nearest to that colour
 * too, so textures and anti-aliased texture edges never turn an object into another colour.
 */
export function textureShade(name: ColourName): Rgb {
  const cached = shadeCache.get(name);
  if (cached !== undefined) return cached;
  const rgb = COLOURS[name];
  const luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
  const target: Rgb = luma < 90 ? [255, 255, 255] : [0, 0, 0];
  let shade: Rgb = rgb;
  for (let t = 0.4; t > 0.04; t -= 0.05) {
    const candidate = mixRgb(rgb, target, t);
    if (nearestColour(candidate) === name) {
      shade = candidate;
      break;
    }
  }
  shadeCache.set(name, shade);
  return shade;
}

/**
 * A background colour as rendered: the named colour muted towards mid grey so that objects,
 * drawn in the full colour, stand out from it.
 */
export function backgroundRgb(name: ColourName): Rgb {
  return mixRgb(COLOURS[name], [128, 128, 128], 0.3);
}

/** Linear mix `a·(1-t) + b·t`, rounded to integers. */
export function mixRgb(a: Rgb, b: Rgb, t: number): Rgb {
  return [
    Math.round(a[0] + (b[0] - a[0]) * t),
    Math.round(a[1] + (b[1] - a[1]) * t),
    Math.round(a[2] + (b[2] - a[2]) * t),
  ];
}

import { Llm2ClipError } from '@llm2clip/core';
import { COLOUR_NAMES } from './palette.js';
import { POSITIONS, SHAPES, SIZES, TEXTURES } from './scene.js';

/** Spatial relations of one object to another, as caption phrases. */
export const RELATIONS = [
  'above',
  'below',
  'to the left of',
  'to the right of',
  'above and to the left of',
  'above and to the right of',
  'below and to the left of',
  'below and to the right of',
] as const;

/** Number words for object counts. */
export const NUMBER_WORDS = ['one', 'two', 'three', 'four'] as const;

/** Ordinal words for listing objects. */
export const ORDINAL_WORDS = ['first', 'second', 'third', 'fourth'] as const;

/**
 * The closed set of values each template slot can take. A slot `{colour2}` takes the values of
 * `colour` (a trailing digit only tells two slots of one kind apart).
 */
export const SLOT_VALUES = {
  colour: COLOUR_NAMES,
  bg: COLOUR_NAMES,
  shape: SHAPES,
  size: SIZES,
  texture: TEXTURES,
  position: POSITIONS,
  relation: RELATIONS,
  count: NUMBER_WORDS,
  ordinal: ORDINAL_WORDS,
  side: ['upper', 'lower', 'left', 'right'],
  extreme: ['largest', 'smallest'],
} as const satisfies Record<string, readonly string[]>;

/** Kind of a word slot. */
export type SlotKind = keyof typeof SLOT_VALUES;

/** Slots that take a phrase already built by {@link fillTemplate} rather than a single listed value. */
export const PHRASE_SLOTS = ['background'] as const;

/**
 * Every caption template, by pool. Templates are lowercase words, `,` and `.`, with `{slot}`
 * placeholders; the closed caption vocabulary is derived from these strings and
 * {@link SLOT_VALUES}, so a caption can only contain words listed here.
 */
export const CAPTION_TEMPLATES = {
  // ---- short captions -------------------------------------------------------------------
  'short.background.plain': ['a {bg} background', 'a plain {bg} background'],
  'short.background.noise': ['a noisy {bg} background', 'a grainy {bg} background'],
  'short.background.vertical-gradient': ['a {bg} and {bg2} gradient', 'a {bg} to {bg2} gradient'],
  'short.background.horizontal-gradient': ['a {bg} and {bg2} gradient', 'a {bg} to {bg2} gradient'],
  'short.background.stripes': ['a {bg} and {bg2} striped background', '{bg} and {bg2} stripes'],
  'short.one': [
    'a {size} {colour} {shape}',
    'a {colour} {shape} in the {position}',
    'a {size} {colour} {shape} on {background}',
    'a {texture} {colour} {shape} in the {position}',
    'a {colour} {shape} on {background}',
    'one {size} {colour} {shape} at the {position}',
    'a picture of a {texture} {colour} {shape}',
  ],
  'short.two': [
    'a {colour} {shape} {relation} a {colour2} {shape2}',
    'a {size} {colour} {shape} {relation} a {size2} {colour2} {shape2}',
    'a {colour} {shape} and a {colour2} {shape2}',
    'a {colour} {shape} and a {colour2} {shape2} on {background}',
    'a {colour} {shape} {relation} a {colour2} {shape2} on {background}',
    '{count} shapes, with a {colour} {shape} {relation} a {colour2} {shape2}',
  ],
  // ---- long captions: overview first -----------------------------------------------------
  'long.framing': [
    'a simple synthetic image of flat geometric shapes.',
    'the picture is a computer generated illustration.',
    'this is a clean drawing in a flat graphic style.',
    'the image shows a minimal abstract composition.',
    'a small digital illustration with flat colours.',
    'geometric shapes arranged on a three by three grid.',
  ],
  'long.background.plain': [
    'the background is a plain {bg} colour.',
    'behind everything is a flat {bg} background.',
    'the whole frame is an even shade of {bg}.',
  ],
  'long.background.noise': [
    'the background is {bg} with fine grainy noise.',
    'behind everything is a noisy, speckled {bg} background.',
  ],
  'long.background.vertical-gradient': [
    'the background fades from {bg} at the top to {bg2} at the bottom.',
    'a vertical gradient runs from {bg} at the top to {bg2} at the bottom.',
  ],
  'long.background.horizontal-gradient': [
    'the background fades from {bg} on the left to {bg2} on the right.',
    'a horizontal gradient runs from {bg} on the left to {bg2} on the right.',
  ],
  'long.background.stripes': [
    'the background has horizontal stripes of {bg} and {bg2}.',
    'wide bands of {bg} and {bg2} run across the background.',
  ],
  'long.count.one': [
    'there is only one object in the scene.',
    'a single shape appears in the picture.',
    'the scene contains just one shape.',
  ],
  'long.count.many': [
    'there are {count} objects in the scene.',
    'in total, {count} separate shapes appear in the picture.',
    'the scene contains {count} shapes, and none of them overlap.',
  ],
  'long.composition.side': [
    'most of the shapes sit in the {side} part of the picture.',
    'the {side} part of the frame holds most of the shapes.',
  ],
  'long.composition.spread': [
    'the shapes are spread out across the frame.',
    'the shapes are scattered over the grid with space between them.',
  ],
  'long.composition.alone': [
    'the rest of the frame is empty.',
    'apart from this one shape, the frame is empty.',
  ],
  'long.composition.centre-empty': [
    'the centre of the picture is empty.',
    'nothing sits in the middle of the frame.',
  ],
  'long.composition.centre-full': [
    'one of the shapes sits right in the centre.',
    'the middle of the frame is occupied.',
  ],
  'long.filler': [
    'the lighting is even, and there are no shadows or reflections.',
    'every shape has crisp edges and is drawn with flat colour.',
    'there is no text, no people and no landscape in the picture.',
    'the style is clean and simple, like an icon or a diagram.',
    'nothing in the picture overlaps, and each shape keeps to its own part of the frame.',
    'the colours are flat and clearly separated from one another.',
    'the view is straight on, as if looking at a flat poster.',
    'there is no depth or perspective, so all shapes lie in the same plane.',
  ],
  // ---- long captions: the objects ---------------------------------------------------------
  'long.object.only': [
    'the only shape is a {size} {colour} {shape} in the {position} of the image.',
    'in the {position} of the image there is a {size} {colour} {shape}.',
    'a {size} {colour} {shape} sits in the {position} of the frame.',
    'looking at the {position}, we find a {size} {colour} {shape}.',
  ],
  'long.object.listed': [
    'the {ordinal} shape is a {size} {colour} {shape} in the {position} of the image.',
    'in the {position} of the image there is a {size} {colour} {shape}.',
    '{ordinal}, there is a {size} {colour} {shape} located in the {position}.',
    'a {size} {colour} {shape} sits in the {position} of the frame.',
    'looking at the {position}, we find a {size} {colour} {shape}.',
  ],
  'long.texture.solid': [
    'it is filled with solid {colour}.',
    'its surface is a solid, even {colour}.',
    'the {shape} has no pattern and is solid {colour}.',
  ],
  'long.texture.striped': [
    'it is covered in diagonal stripes of two shades of {colour}.',
    'the {shape} is striped, with thin diagonal bands across it.',
  ],
  'long.texture.dotted': [
    'its surface is covered in small dots of another shade of {colour}.',
    'the {shape} is dotted with a regular pattern of small spots.',
  ],
  'long.texture.checkered': [
    'it has a checkered pattern, like a small chess board.',
    'the {shape} is checkered in two shades of {colour}.',
  ],
  'long.extreme': [
    'it is the {extreme} shape in the picture.',
    'no other shape is as {size} as this one, so it is the {extreme}.',
  ],
  'long.relation': [
    'the {colour} {shape} is {relation} the {colour2} {shape2}.',
    'the {colour2} {shape2} has the {colour} {shape} {relation} it.',
    'relative to the {colour2} {shape2}, the {colour} {shape} lies {relation} it.',
  ],
  'long.closing': [
    'that is everything in the image.',
    'overall, the picture is simple and easy to read.',
  ],
} as const satisfies Record<string, readonly string[]>;

/** Name of a template pool of {@link CAPTION_TEMPLATES}. */
export type TemplatePool = keyof typeof CAPTION_TEMPLATES;

const PHRASE_BRAND = Symbol('phrase');

/** A piece of caption text built only by {@link fillTemplate}, so it holds vocabulary words only. */
export interface Phrase {
  readonly [PHRASE_BRAND]: true;
  readonly text: string;
}

/** Values for the slots of one template. */
export type SlotValues = Readonly<Record<string, string | Phrase | undefined>>;

const SLOT_PATTERN = /\{([a-z]+?)(\d*)\}/g;

/** Names of the slots used by `template`, in order (e.g. `colour`, `colour2`). */
export function templateSlots(template: string): string[] {
  return [...template.matchAll(SLOT_PATTERN)].map((match) => `${match[1]}${match[2]}`);
}

/**
 * Fills the `{slot}` placeholders of `template`. Word slots only accept a value listed in
 * {@link SLOT_VALUES}; phrase slots only accept a {@link Phrase}. Anything else is a bug in the
 * caption generator and throws `E_STATE`, which keeps the caption vocabulary closed.
 */
export function fillTemplate(template: string, values: SlotValues): Phrase {
  const text = template.replace(SLOT_PATTERN, (_whole, kind: string, index: string) => {
    const slot = `${kind}${index}`;
    const value = values[slot];
    if ((PHRASE_SLOTS as readonly string[]).includes(kind)) {
      if (typeof value !== 'object' || value === null || value[PHRASE_BRAND] !== true) {
        throw new Llm2ClipError('E_STATE', `template slot {${slot}} needs a phrase built from templates`, { field: slot });
      }
      return value.text;
    }
    const allowed = (SLOT_VALUES as Record<string, readonly string[]>)[kind];
    if (allowed === undefined) throw new Llm2ClipError('E_STATE', `unknown template slot {${slot}} in "${template}"`, { field: slot });
    if (typeof value !== 'string' || !allowed.includes(value)) {
      throw new Llm2ClipError('E_STATE', `value ${JSON.stringify(value)} is not allowed in slot {${slot}}`, { field: slot });
    }
    return value;
  });
  return { [PHRASE_BRAND]: true, text };
}

import { z } from 'zod';

/** Units a report value may have (see `MetricUnit`). */
const unitSchema = z.enum(['fraction', 'percent', 'rank', 'count'], { error: 'unit must be one of fraction, percent, rank, count' });

const settingsSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()], { error: 'a setting must be a string, number or boolean' }), {
  error: 'settings must be an object when present',
});

const nonEmpty = (field: string) => z.string({ error: `${field} must be a non-empty string` }).min(1, { error: `${field} must be a non-empty string` });

/**
 * The structure of `report.json` version 1 as a zod schema (types, units, finite values). The
 * cross-field rules — results name listed models, no duplicate result keys or model ids — are
 * checked by `validateReport` on top of it. `z.toJSONSchema(REPORT_SCHEMA)` gives a JSON Schema
 * for other tools.
 */
export const REPORT_SCHEMA = z.object({
  format: z.literal('llm2clip.report'),
  version: z.literal(1),
  createdAt: z.string({ error: 'createdAt must be an ISO date string' }).refine((value) => !Number.isNaN(Date.parse(value)), {
    error: 'createdAt must be an ISO date string',
  }),
  run: nonEmpty('run'),
  models: z.array(
    z.object(
      {
        id: nonEmpty('id'),
        description: z.object(
          {
            name: z.string({ error: 'name must be a string' }),
            fingerprint: z.string({ error: 'fingerprint must be a string' }),
            details: z.record(z.string(), z.unknown(), { error: 'details must be an object when present' }).optional(),
          },
          { error: 'description must be an object' },
        ),
      },
      { error: 'a model must be an object' },
    ),
    { error: 'models must be an array' },
  ),
  results: z.array(
    z.object(
      {
        model: nonEmpty('model'),
        dataset: nonEmpty('dataset'),
        task: nonEmpty('task'),
        metric: nonEmpty('metric'),
        value: z.number({ error: 'value must be a finite number' }),
        unit: unitSchema.optional(),
        settings: settingsSchema.optional(),
      },
      { error: 'a result must be an object' },
    ),
    { error: 'results must be an array' },
  ),
  datasets: z
    .array(
      z.object(
        {
          name: nonEmpty('name'),
          fingerprint: z.string({ error: 'fingerprint must be a string' }),
          details: settingsSchema.optional(),
        },
        { error: 'a dataset must be an object' },
      ),
      { error: 'datasets must be an array when present' },
    )
    .optional(),
  notes: z.array(z.string(), { error: 'notes must be an array of strings when present' }).optional(),
});

/** Turns a zod issue path into the field notation of error messages: `results[0].value`. @internal */
export function issueField(path: readonly PropertyKey[]): string {
  let field = '';
  for (const part of path) field += typeof part === 'number' ? `[${part}]` : `${field === '' ? '' : '.'}${String(part)}`;
  return field === '' ? '(root)' : field;
}

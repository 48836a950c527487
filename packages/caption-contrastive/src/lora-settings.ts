import { z } from 'zod';

/**
 * The LoRA settings of a stage-1 config (MNTP and caption-contrastive alike). Every field is
 * optional; `@llm2clip/llm`'s defaults are LLM2CLIP's: r 16, alpha 32, dropout 0.05 on all seven
 * Linear modules.
 */
export const LoraSettingsSchema = z
  .object({
    r: z.number().int().positive().optional(),
    alpha: z.number().positive().optional(),
    dropout: z.number().min(0).lt(1).optional(),
    targetModules: z.array(z.enum(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'])).optional(),
  })
  .default({});

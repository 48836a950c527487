import { z } from 'zod';

/** Schema of the synthetic pipeline's configuration (every field has a documented default). */
export const pipelineConfigSchema = z.object({
  /** Seed for data, weights, data order, LoRA dropout and caption choice. */
  seed: z.number().int(),
  /** Force a tensor backend; default: the fastest available. */
  backend: z.enum(['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu']).optional(),
  data: z.object({
    trainSamples: z.number().int().positive(),
    testSamples: z.number().int().positive(),
    imageSize: z.number().int().positive(),
    samplesPerShard: z.number().int().positive(),
  }),
  /** The Llama-style decoder (Hugging Face config field names). */
  llm: z.object({
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_key_value_heads: z.number().int().positive(),
    maxLength: z.number().int().positive(),
  }),
  /** Brief causal-LM pretraining so stage 1 starts from a language model. */
  clm: z.object({ steps: z.number().int().nonnegative(), batchSize: z.number().int().positive(), lr: z.number().positive(), warmupSteps: z.number().int().nonnegative() }),
  /** Stage 1: caption-contrastive LoRA fine-tuning. */
  stage1: z.object({
    steps: z.number().int().nonnegative(),
    batchSize: z.number().int().positive(),
    lr: z.number().positive(),
    warmupSteps: z.number().int().nonnegative(),
    loraR: z.number().int().positive(),
    loraAlpha: z.number().positive(),
    loraDropout: z.number().min(0).max(1),
    scale: z.number().positive(),
  }),
  /** The CLIP ViT (Hugging Face CLIP vision config field names). */
  vision: z.object({
    patch_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    projection_dim: z.number().int().positive(),
  }),
  /** The 77-token CLIP text tower of the baseline. */
  baselineText: z.object({
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    max_position_embeddings: z.number().int().positive(),
  }),
  /** Stage 2 (both the LLM2CLIP run and the baseline use these; a short or long caption is drawn with p = 0.5 per sample). */
  stage2: z.object({
    steps: z.number().int().nonnegative(),
    batchSize: z.number().int().positive(),
    lr: z.number().positive(),
    warmupSteps: z.number().int().nonnegative(),
    weightDecay: z.number().min(0),
  }),
  /** Steps between checkpoints in every training phase. */
  checkpointEvery: z.number().int().positive(),
});

/** The pipeline configuration. */
export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;

/** Named sizes: `default` is the documented demo; `tiny` finishes in seconds (tests, smoke runs). */
export type PipelinePreset = 'default' | 'tiny';

const DEFAULT_CONFIG: PipelineConfig = {
  seed: 0,
  data: { trainSamples: 2000, testSamples: 250, imageSize: 64, samplesPerShard: 500 },
  llm: { hidden_size: 128, intermediate_size: 344, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, maxLength: 200 },
  clm: { steps: 120, batchSize: 16, lr: 1e-3, warmupSteps: 12 },
  stage1: { steps: 120, batchSize: 16, lr: 1e-3, warmupSteps: 12, loraR: 16, loraAlpha: 32, loraDropout: 0.05, scale: 50 },
  vision: { patch_size: 8, hidden_size: 128, intermediate_size: 512, num_hidden_layers: 4, num_attention_heads: 4, projection_dim: 128 },
  baselineText: { hidden_size: 128, intermediate_size: 512, num_hidden_layers: 4, num_attention_heads: 4, max_position_embeddings: 77 },
  stage2: { steps: 250, batchSize: 64, lr: 1e-3, warmupSteps: 25, weightDecay: 0.05 },
  checkpointEvery: 50,
};

const TINY_CONFIG: PipelineConfig = {
  seed: 0,
  data: { trainSamples: 48, testSamples: 16, imageSize: 32, samplesPerShard: 16 },
  llm: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, maxLength: 200 },
  clm: { steps: 4, batchSize: 8, lr: 1e-3, warmupSteps: 1 },
  stage1: { steps: 4, batchSize: 8, lr: 1e-3, warmupSteps: 1, loraR: 4, loraAlpha: 8, loraDropout: 0.05, scale: 50 },
  vision: { patch_size: 8, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, projection_dim: 32 },
  baselineText: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 77 },
  stage2: { steps: 4, batchSize: 16, lr: 1e-3, warmupSteps: 1, weightDecay: 0.05 },
  checkpointEvery: 2,
};

/** A preset's configuration with top-level overrides applied and validated. */
export function resolvePipelineConfig(preset: PipelinePreset, overrides: Partial<Pick<PipelineConfig, 'seed' | 'backend'>> = {}): PipelineConfig {
  const base = preset === 'tiny' ? TINY_CONFIG : DEFAULT_CONFIG;
  const merged = { ...structuredClone(base), ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  return pipelineConfigSchema.parse(merged);
}

/**
 * `@llm2clip/llm`: Llama-family decoders (Llama, Mistral, Qwen2) in TensorFlow.js with Hugging
 * Face file layouts, causal or bidirectional attention, LoRA in PEFT layout, pooling, and an
 * LLM2Vec-style caption embedder implementing `TextEmbedder`.
 *
 * @packageDocumentation
 */
export {
  SUPPORTED_MODEL_TYPES,
  SUPPORTED_ARCHITECTURES,
  RopeScalingSchema,
  LlamaConfigSchema,
  parseLlamaConfig,
  readLlamaConfig,
  headDimOf,
  kvHeadsOf,
  attentionBiasesOf,
  slidingWindowOf,
  type LlamaConfig,
  type LlamaConfigInput,
} from './config.js';
export { ropeInverseFrequencies, ropePositionIds, ropeTables, rotateHalf, applyRope, type RopeTables } from './rope.js';
export {
  LlamaModel,
  LLAMA_LINEAR_MODULES,
  linearModuleName,
  llamaParameterShapes,
  readModelWeights,
  type LlamaLinearModule,
  type LinearAdapter,
  type ForwardContext,
  type ForwardOptions,
  type CreateOptions,
} from './llama-model.js';
export {
  LlmTokenizer,
  type TextInput,
  type TokenizeOptions,
  type EncodeBatchOptions,
  type TokenizedText,
  type EncodedBatch,
} from './tokenizer.js';
export { POOLING_MODES, poolingWeights, poolHiddenStates, type PoolingMode } from './pooling.js';
export { dropoutMask } from './dropout.js';
export {
  LoraAdapter,
  LoraOptionsSchema,
  PEFT_PREFIX,
  loraTensorName,
  parseLoraOptions,
  loadAdapter,
  type LoraOptions,
  type LoraOptionsInput,
  type LoraTargetModule,
  type AdapterMetadata,
} from './lora.js';
export {
  LlmEmbedder,
  type LlmEmbedderOptions,
  type LlmEmbedderPretrainedOptions,
  type EmbedTensorOptions,
} from './embedder.js';
export { causalLmLoss } from './causal-lm-loss.js';
